namespace Engine.Core.Config;

/// <summary>
/// RoPE inverse frequencies inv_freq[j] = theta^(-2j/d) for j &lt; d/2, with Hugging Face's frequency
/// scaling applied (linear: divided by the factor; llama3: <c>_compute_llama3_parameters</c>).
/// Computed in double and rounded once to float, so every backend rotates by the same angles.
/// </summary>
public static class RopeFrequencies
{
    public static float[] Compute(ModelConfig config) => Compute(config.HeadDim, config.RopeTheta, config.RopeScaling);

    public static float[] Compute(int headDim, double theta, RopeScaling scaling)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new EngineException($"RoPE needs an even head dimension, got {headDim}");
        if (theta <= 0) throw new EngineException($"rope_theta must be positive, got {theta}");
        int half = headDim / 2;
        var result = new float[half];
        for (int j = 0; j < half; j++)
        {
            double invFreq = Math.Pow(theta, -2.0 * j / headDim);
            result[j] = (float)Scale(invFreq, scaling);
        }
        return result;
    }

    private static double Scale(double invFreq, RopeScaling scaling)
    {
        switch (scaling.Type)
        {
            case RopeScalingType.None:
                return invFreq;
            case RopeScalingType.Linear:
                return invFreq / scaling.Factor;
            case RopeScalingType.Llama3:
                {
                    // Wavelengths longer than the original context are slowed by the factor, shorter than
                    // old_context/high_freq_factor are kept, and the band between is interpolated.
                    double lowFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
                    double highFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
                    double wavelen = 2 * Math.PI / invFreq;
                    if (wavelen > lowFreqWavelen) return invFreq / scaling.Factor;
                    if (wavelen < highFreqWavelen) return invFreq;
                    double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelen - scaling.LowFreqFactor)
                                    / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                    return (1 - smooth) * invFreq / scaling.Factor + smooth * invFreq;
                }
            default:
                throw new EngineException($"unsupported rope scaling {scaling.Type}");
        }
    }
}
