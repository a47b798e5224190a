namespace Engine.Kernels.Ilgpu;

/// <summary>Running state of an online softmax: the largest score seen and the sum of exp(score - max).</summary>
public struct SoftmaxState
{
    public float Max, Sum;
}
