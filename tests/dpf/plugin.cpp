// A stereo effect that loads cleanly, then behaves as PLUGINARY_BEHAVIOUR says once it processes:
//   0 passes audio through (and reports PLUGINARY_LATENCY samples of latency),
//   1 writes NaN, 2 segfaults, 3 never returns;
//   4 is an instrument instead: a sine while a MIDI note is held, silence otherwise.
// Built by tests/dpf_bundles.py with DPF (dpf-source), which supplies the VST3 implementation.
#include "DistrhoPlugin.hpp"

#include <cmath>

START_NAMESPACE_DISTRHO

class TestPlugin : public Plugin {
public:
    TestPlugin() : Plugin(2, 0, 0) { setLatency(PLUGINARY_LATENCY); }

protected:
    const char* getLabel() const override { return PLUGINARY_NAME; }
    const char* getMaker() const override { return "Pluginary Tests"; }
    const char* getLicense() const override { return "ISC"; }
    uint32_t getVersion() const override { return d_version(1, 2, 3); }
    int64_t getUniqueId() const override { return PLUGINARY_UID; }

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
    float values[2] = {0.0f, 1.0f};
    int held = -1;       // The MIDI note held (instrument only), or -1.
    float phase = 0.0f;
};

Plugin* createPlugin() { return new TestPlugin(); }

END_NAMESPACE_DISTRHO
