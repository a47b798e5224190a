namespace Engine.Core.Config;

/// <summary>
/// RoPE inverse frequencies inv_freq[j] = theta^(-2j/d) for j &lt; d/2, with Hugging Face's frequency
/// scaling applied (linear: divided by the factor; llama3: <c>_compute_llama3_parameters</c>).
/// </summary>
/// <remarks>
/// The arithmetic is float32, step for step in transformers' order (inv_freq = 1 / theta^(2j/d) as a
/// float32 tensor, then the scaling in float32), not float64: at position 1500 the two differ by
/// ~1e-4 in the logits, and matching Hugging Face's rounding is what makes outputs agree with it.
/// </remarks>
public static class RopeFrequencies
{
    public static float[] Compute(ModelConfig config)
    {
        float[] result = Compute(config.HeadDim, config.RopeTheta, config.RopeScaling);
        if (config.RopeFrequencyFactors is { } factors)
        {
            if (factors.Count != result.Length)
                throw new EngineException($"{factors.Count} RoPE frequency factors for a head dimension of {config.HeadDim} (expected {result.Length})");
            // llama.cpp divides each rotation angle by its factor: the same as dividing the frequency.
            for (int j = 0; j < result.Length; j++) result[j] /= factors[j];
        }
        return result;
    }

    public static float[] Compute(int headDim, double theta, RopeScaling scaling)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new EngineException($"RoPE needs an even head dimension, got {headDim}");
        if (theta <= 0) throw new EngineException($"rope_theta must be positive, got {theta}");
        int half = headDim / 2;
        var result = new float[half];
        for (int j = 0; j < half; j++)
        {
            float exponent = (float)(2 * j) / headDim;
            float invFreq = 1f / MathF.Pow((float)theta, exponent);
            result[j] = Scale(invFreq, scaling);
        }
        return result;
    }

    private static float Scale(float invFreq, RopeScaling scaling)
    {
        switch (scaling.Type)
        {
            case RopeScalingType.None:
                return invFreq;
            case RopeScalingType.Linear:
                return invFreq / (float)scaling.Factor;
            case RopeScalingType.Llama3:
                {
                    // Wavelengths longer than the original context are slowed by the factor, those shorter
                    // than old_context/high_freq_factor are kept, and the band between is interpolated.
                    float factor = (float)scaling.Factor;
                    double lowFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
                    double highFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
                    float wavelen = (float)(2 * Math.PI) / invFreq;
                    float scaled = wavelen > lowFreqWavelen ? invFreq / factor : invFreq;
                    bool medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
                    if (!medium) return scaled;
                    float smooth = ((float)scaling.OriginalMaxPositionEmbeddings / wavelen - (float)scaling.LowFreqFactor)
                                   / (float)(scaling.HighFreqFactor - scaling.LowFreqFactor);
                    return (1 - smooth) * scaled / factor + smooth * scaled;
                }
            default:
                throw new EngineException($"unsupported rope scaling {scaling.Type}");
        }
    }
}
