namespace Engine.Kernels.Ilgpu;

/// <summary>What a fused decode product reads as its input row: x itself, RMSNorm(x), or silu(x) * up.</summary>
public enum FusedInput { Plain = 0, Norm = 1, SiluMul = 2 }

/// <summary>The scalar arguments of the fused decode products (IlgpuBackend.FusedLinear.cs).</summary>
public struct FusedLinearParams
{
    public int Rows, InDim, OutDim;
    /// <summary>Groups per input row: the grid is rows * GroupsPerRow groups.</summary>
    public int GroupsPerRow;
    /// <summary>A <see cref="FusedInput"/> as an int.</summary>
    public int Input;
    /// <summary>1 adds the bias; 1 adds the result to the output (the residual) instead of storing it; 1 reads input row rowIndices[r].</summary>
    public int HasBias, Accumulate, Gathered;
    public float Eps;
}
