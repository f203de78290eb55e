// A stereo effect that loads cleanly, then behaves as PLUGINARY_BEHAVIOUR says once it processes:
//   0 passes audio through (and reports PLUGINARY_LATENCY samples of latency),
//   1 writes NaN, 2 segfaults, 3 never returns;
//   4 is an instrument instead: a sine while a MIDI note is held, silence otherwise;
//   5 (EdgeCases) passes audio through; its parameters are a catalogue of edge cases for
//     parameter describers (booleans, enumerations short and long, integer steps, units only in
//     the text, duplicate names, python-key collisions, a "-inf" bound, a non-automatable and an
//     output parameter), one per index of EdgeIndex below, each commented with its edge. It is
//     the one behaviour with programs (DistrhoPluginInfo.h): DPF adds a hidden "Current
//     Program" parameter whose texts are all the one program's name, so pedalboard's slow pass
//     sets it, loading the program, inside load_plugin (which reads .parameters): the values a
//     host then sees are the program's, not ranges.def. Found while building it: DPF caps an
//     enumeration at 255 labels (a uint8_t count), has no text hook (labels are the only way to
//     put words or units in a text) and cannot reach a true -inf; JUCE's VST3 host reports
//     is_boolean false even for kParameterIsBoolean. tests/test_dpf_edge_controls.py proves
//     what pedalboard makes of each case.
// Built by tests/dpf_bundles.py with DPF (dpf-source), which supplies the VST3 implementation.
#include "DistrhoPlugin.hpp"

#include <cmath>
#include <cstdio>

START_NAMESPACE_DISTRHO

#if PLUGINARY_BEHAVIOUR == 5
// EdgeCases' parameters, by index. DPF has no per-parameter text hook in VST3: the wrapper
// (DistrhoPluginVST3.cpp, getParameterStringForValue) prints an enumeration label when the value
// equals one exactly, else "%d" for integers and "%f" otherwise, and the unit goes to the
// separate units field. So units "in the text", "-inf" and words are all enumeration labels.
enum EdgeIndex : uint32_t {
    kEnabled,     // boolean with Off/On labels: the one pedalboard types as bool.
    kSwitch,      // kParameterIsBoolean without labels: texts "0.000000"/"1.000000", so a float.
    kToggle,      // kParameterIsInteger 0..1: texts "0"/"1", a float with step 1.
    kMode,        // a short restricted enumeration: 3 words, a str.
    kSlot,        // 600 texts, past the describer's 256-value cut (see describeEdge for how).
    kSemitones,   // kParameterIsInteger -12..12: integer texts, step 1.
    kPreDelay,    // no unit, but every label carries "ms": pedalboard infers the label.
    kCrossover,   // labels in Hz and kHz: pedalboard scales kHz and infers "Hz".
    kFrequency,   // unit "Hz" in the units field, "%f" texts: the python key gains "_hz".
    kLevelDb,     // first of two parameters named "Level": the one pedalboard keeps.
    kLevelPlain,  // second "Level": same cpp name, so pedalboard's per-name cache hides it.
    kMixText,     // "Mix %": the key "mix", like...
    kMixUnit,     // ..."Mix" with unit "%" (name + unit make the key): the later one wins.
    kQDash,       // "Q-Factor": the key "q_factor", like...
    kQSpace,      // ..."Q Factor": the later one wins.
    kFloor,       // dB whose minimum's label is "-inf": float("-inf") is pedalboard's min.
    kLocked,      // not automatable: hosts still list it.
    kMeter,       // an output (read-only) parameter; last, as DPF asks for VST2.
    kEdgeCount
};

// Fills DPF's enumeration with heap values (ParameterEnumerationValues deletes them).
static void setLabels(Parameter& parameter, bool restricted, uint32_t count, const float* values,
                      const char* const* labels) {
    parameter.enumValues.count = count;
    parameter.enumValues.restrictedMode = restricted;
    parameter.enumValues.values = new ParameterEnumerationValue[count];
    for (uint32_t i = 0; i < count; ++i) {
        parameter.enumValues.values[i].value = values[i];
        parameter.enumValues.values[i].label = labels[i];
    }
}

static void setRange(Parameter& parameter, float min, float max, float def) {
    parameter.ranges.min = min;
    parameter.ranges.max = max;
    parameter.ranges.def = def;
}

// Also called by the constructor to learn each default, so both agree by construction.
static void describeEdge(uint32_t index, Parameter& parameter) {
    parameter.hints = kParameterIsAutomatable;
    switch (index) {
    case kEnabled: {
        static const float values[] = {0.0f, 1.0f};
        static const char* const labels[] = {"Off", "On"};
        parameter.name = "Enabled";
        parameter.symbol = "enabled";
        parameter.hints |= kParameterIsBoolean;
        setRange(parameter, 0.0f, 1.0f, 1.0f);
        setLabels(parameter, true, 2, values, labels);
        break;
    }
    case kSwitch:
        parameter.name = "Switch";
        parameter.symbol = "switch";
        parameter.hints |= kParameterIsBoolean;
        setRange(parameter, 0.0f, 1.0f, 0.0f);
        break;
    case kToggle:
        parameter.name = "Toggle";
        parameter.symbol = "toggle";
        parameter.hints |= kParameterIsInteger;
        setRange(parameter, 0.0f, 1.0f, 0.0f);
        break;
    case kMode: {
        static const float values[] = {0.0f, 1.0f, 2.0f};
        static const char* const labels[] = {"Low", "Mid", "High"};
        parameter.name = "Mode";
        parameter.symbol = "mode";
        parameter.hints |= kParameterIsInteger;
        setRange(parameter, 0.0f, 2.0f, 1.0f);
        setLabels(parameter, true, 3, values, labels);
        break;
    }
    case kSlot: {
        // DPF cannot enumerate 600 labels: ParameterEnumerationValues::count is a uint8_t (255 at
        // most, and a larger count silently wraps). So: an integer 0..599 whose first 255 values
        // carry word labels and the rest print as "%d" numbers. 600 distinct texts, some not
        // numbers, make pedalboard type it str with 600 valid_values. Not restricted: DPF would
        // then tell the host 255 steps (step_count = count - 1) for 600 values.
        static float values[255];
        static char text[255][16];
        static const char* labels[255];
        for (uint32_t i = 0; i < 255; ++i) {
            values[i] = static_cast<float>(i);
            std::snprintf(text[i], sizeof(text[i]), "Slot %03u", i);
            labels[i] = text[i];
        }
        parameter.name = "Slot";
        parameter.symbol = "slot";
        parameter.hints |= kParameterIsInteger;
        setRange(parameter, 0.0f, 599.0f, 0.0f);
        setLabels(parameter, false, 255, values, labels);
        break;
    }
    case kSemitones:
        parameter.name = "Semitones";
        parameter.symbol = "semitones";
        parameter.hints |= kParameterIsInteger;
        setRange(parameter, -12.0f, 12.0f, 0.0f);
        break;
    case kPreDelay: {
        // Uneven steps on purpose: pedalboard reports an approximate step, not a step.
        static const float values[] = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f};
        static const char* const labels[] = {"1 ms", "2 ms", "5 ms", "10 ms", "20 ms"};
        parameter.name = "Pre-Delay";
        parameter.symbol = "predelay";
        parameter.hints |= kParameterIsInteger;
        setRange(parameter, 0.0f, 4.0f, 0.0f);
        setLabels(parameter, true, 5, values, labels);
        break;
    }
    case kCrossover: {
        static const float values[] = {0.0f, 1.0f, 2.0f, 3.0f};
        static const char* const labels[] = {"250 Hz", "500 Hz", "1 kHz", "2 kHz"};
        parameter.name = "Crossover";
        parameter.symbol = "crossover";
        parameter.hints |= kParameterIsInteger;
        setRange(parameter, 0.0f, 3.0f, 1.0f);
        setLabels(parameter, true, 4, values, labels);
        break;
    }
    case kFrequency:
        parameter.name = "Frequency";
        parameter.symbol = "frequency";
        parameter.unit = "Hz";
        setRange(parameter, 20.0f, 20000.0f, 440.0f);
        break;
    case kLevelDb:
        parameter.name = "Level";
        parameter.symbol = "level_db";
        parameter.unit = "dB";
        setRange(parameter, -60.0f, 0.0f, 0.0f);
        break;
    case kLevelPlain:
        parameter.name = "Level";
        parameter.symbol = "level_plain";
        setRange(parameter, 0.0f, 1.0f, 0.5f);
        break;
    case kMixText:
        parameter.name = "Mix %";
        parameter.symbol = "mix_text";
        setRange(parameter, 0.0f, 100.0f, 100.0f);
        break;
    case kMixUnit:
        parameter.name = "Mix";
        parameter.symbol = "mix_unit";
        parameter.unit = "%";
        setRange(parameter, 0.0f, 50.0f, 25.0f);
        break;
    case kQDash:
        parameter.name = "Q-Factor";
        parameter.symbol = "q_dash";
        setRange(parameter, 0.1f, 10.0f, 0.7f);
        break;
    case kQSpace:
        parameter.name = "Q Factor";
        parameter.symbol = "q_space";
        parameter.hints |= kParameterIsInteger;
        setRange(parameter, 1.0f, 4.0f, 2.0f);
        break;
    case kFloor: {
        // A dB range cannot reach -INFINITY in DPF (normalising it gives NaN), so the minimum
        // is a finite -60 labelled "-inf"; unrestricted, so the rest stays a continuous "%f".
        static const float values[] = {-60.0f};
        static const char* const labels[] = {"-inf"};
        parameter.name = "Floor";
        parameter.symbol = "floor";
        parameter.unit = "dB";
        setRange(parameter, -60.0f, 0.0f, -20.0f);
        setLabels(parameter, false, 1, values, labels);
        break;
    }
    case kLocked:
        parameter.name = "Locked";
        parameter.symbol = "locked";
        parameter.hints = 0x0;  // Not kParameterIsAutomatable: no V3_PARAM_CAN_AUTOMATE.
        setRange(parameter, 0.0f, 1.0f, 0.25f);
        break;
    default:
        // Read-only to hosts (V3_PARAM_READ_ONLY). Constant: a live meter would make the text
        // depend on what audio ran, and the oracle compares texts between two hosts.
        parameter.name = "Meter";
        parameter.symbol = "meter";
        parameter.unit = "dB";
        parameter.hints = kParameterIsOutput;
        setRange(parameter, -60.0f, 0.0f, -60.0f);
        break;
    }
}
#endif

class TestPlugin : public Plugin {
public:
#if PLUGINARY_BEHAVIOUR == 5
    TestPlugin() : Plugin(kEdgeCount, 1, 0) {
        setLatency(PLUGINARY_LATENCY);
        for (uint32_t i = 0; i < kEdgeCount; ++i) {
            Parameter parameter;
            describeEdge(i, parameter);
            values[i] = parameter.ranges.def;
        }
    }
#else
    TestPlugin() : Plugin(2, 0, 0) { setLatency(PLUGINARY_LATENCY); }
#endif

protected:
    const char* getLabel() const override { return PLUGINARY_NAME; }
    const char* getMaker() const override { return "Pluginary Tests"; }
    const char* getLicense() const override { return "ISC"; }
    uint32_t getVersion() const override { return d_version(1, 2, 3); }
    int64_t getUniqueId() const override { return PLUGINARY_UID; }

#if PLUGINARY_BEHAVIOUR == 5
    void initParameter(uint32_t index, Parameter& parameter) override {
        describeEdge(index, parameter);
    }

    void initProgramName(uint32_t, String& name) override { name = "Factory"; }

    // The one program differs from the defaults, so whoever loads it (pedalboard's slow pass
    // over "Current Program" does) visibly moves current values away from ranges.def.
    void loadProgram(uint32_t) override {
        values[kEnabled] = 0.0f;
        values[kMode] = 2.0f;
        values[kSemitones] = 7.0f;
        values[kLevelDb] = -6.0f;
    }
#else
    void initParameter(uint32_t index, Parameter& parameter) override {
        parameter.hints = kParameterIsAutomatable;
        if (index == 0) {
            parameter.name = "Gain";
            parameter.symbol = "gain";
            parameter.unit = "dB";
            parameter.ranges.def = 0.0f;
            parameter.ranges.min = -60.0f;
            parameter.ranges.max = 12.0f;
        } else {
            // min == max: a range no host can use, which the probe must flag as "degenerate".
            parameter.name = "Fixed";
            parameter.symbol = "fixed";
            parameter.ranges.def = 1.0f;
            parameter.ranges.min = 1.0f;
            parameter.ranges.max = 1.0f;
        }
    }
#endif

    float getParameterValue(uint32_t index) const override { return values[index]; }
    void setParameterValue(uint32_t index, float value) override { values[index] = value; }

#if PLUGINARY_BEHAVIOUR == 4
    void run(const float**, float** outputs, uint32_t frames, const MidiEvent* events,
             uint32_t eventCount) override {
        uint32_t next = 0;
        for (uint32_t i = 0; i < frames; ++i) {
            for (; next < eventCount && events[next].frame <= i; ++next) {
                const uint8_t status = events[next].data[0] & 0xF0;
                if (status == 0x90 && events[next].data[2] > 0) {
                    held = events[next].data[1];
                } else if (status == 0x80 || status == 0x90) {
                    held = -1;
                }
            }
            float sample = 0.0f;
            if (held >= 0) {
                phase += 440.0f * std::pow(2.0f, (held - 69) / 12.0f) / getSampleRate();
                phase -= std::floor(phase);
                sample = 0.25f * std::sin(6.2831853f * phase);
            }
            outputs[0][i] = outputs[1][i] = sample;
        }
    }
#else
    void run(const float** inputs, float** outputs, uint32_t frames) override {
        // pedalboard itself runs noise through a plugin while loading it, in 512-frame blocks;
        // only a longer block of signal (the probe's audio check sends 4,800 frames) may trip
        // the misbehaviour, or the plugin would fail to load instead of failing in process().
        bool signal = false;
        for (int channel = 0; channel < 2 && frames > 512; ++channel) {
            for (uint32_t i = 0; i < frames; ++i) {
                signal = signal || inputs[channel][i] != 0.0f;
            }
        }
        if (PLUGINARY_BEHAVIOUR == 2 && signal) {
            *(volatile int*)nullptr = 0;
        }
        if (PLUGINARY_BEHAVIOUR == 3 && signal) {
            for (volatile bool forever = true; forever;) {
            }
        }
        for (int channel = 0; channel < 2; ++channel) {
            for (uint32_t i = 0; i < frames; ++i) {
                outputs[channel][i] = PLUGINARY_BEHAVIOUR == 1 ? NAN : inputs[channel][i];
            }
        }
    }

#endif

private:
#if PLUGINARY_BEHAVIOUR == 5
    float values[kEdgeCount];  // ranges.def each, set in the constructor.
#else
    float values[2] = {0.0f, 1.0f};
#endif
    int held = -1;       // The MIDI note held (instrument only), or -1.
    float phase = 0.0f;
};

Plugin* createPlugin() { return new TestPlugin(); }

END_NAMESPACE_DISTRHO
