// A stereo effect that loads cleanly, then behaves as PLUGINARY_BEHAVIOUR says once it processes:
//   0 passes audio through (and reports PLUGINARY_LATENCY samples of latency),
//   1 writes NaN, 2 segfaults, 3 never returns.
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

private:
    float values[2] = {0.0f, 1.0f};
};

Plugin* createPlugin() { return new TestPlugin(); }

END_NAMESPACE_DISTRHO
