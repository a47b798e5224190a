namespace Engine.Kernels.Ilgpu;

/// <summary>The scalar arguments of the tensor-core GEMM: output[rows, outDim] = a[rows, inDim] weight[outDim, inDim]^T (+ bias).</summary>
public struct TensorCoreGemmParams
{
    public int Rows, InDim, OutDim, HasBias;
    /// <summary>Pipeline depth: shared-memory stages of (A, B) tiles in flight (2 to 4).</summary>
    public int Stages;
    /// <summary>Device addresses of element 0 of the 16-bit activations and of the weights (for cp.async; unused by the emulation).</summary>
    public long ActivationAddress, WeightAddress;
}
