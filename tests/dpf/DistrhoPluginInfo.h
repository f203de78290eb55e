// DPF's per-plugin settings; the name, id and latency come from -D flags (see dpf_bundles.py).
#pragma once

#define DISTRHO_PLUGIN_BRAND "Pluginary Tests"
#define DISTRHO_PLUGIN_NAME PLUGINARY_NAME
#define DISTRHO_PLUGIN_URI "urn:pluginary:tests:" PLUGINARY_NAME
#if PLUGINARY_BEHAVIOUR == 4
// An instrument: no audio in, MIDI in, stereo out.
#define DISTRHO_PLUGIN_IS_SYNTH 1
#define DISTRHO_PLUGIN_NUM_INPUTS 0
#else
#define DISTRHO_PLUGIN_NUM_INPUTS 2
#endif
#define DISTRHO_PLUGIN_NUM_OUTPUTS 2
#define DISTRHO_PLUGIN_IS_RT_SAFE 1
#define DISTRHO_PLUGIN_HAS_UI 0
#define DISTRHO_PLUGIN_WANT_LATENCY 1
#if PLUGINARY_BEHAVIOUR == 5
// EdgeCases: one program, so DPF exposes "Current Program" and loads the program when it is set.
#define DISTRHO_PLUGIN_WANT_PROGRAMS 1
#endif
