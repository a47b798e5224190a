using Engine.Core;

namespace Engine.Kernels;

/// <summary>
/// The fused ops of <see cref="IBackend"/> written as the plain ops they fuse: the default every backend
/// inherits (so any weight dtype works everywhere) and the fallback a backend's fused kernels take for
/// shapes they do not cover. A fused kernel must compute what these compute (to rounding).
/// </summary>
public static class FusedOps
{
    /// <summary>See <see cref="IBackend.RmsNormLinear"/>.</summary>
    public static void RmsNormLinear(IBackend b, DeviceArray x, DeviceArray? rowIndices, DeviceArray normWeight, float eps,
        DeviceArray weight, DeviceArray? bias, DeviceArray output, DeviceArray normed, int rows, int inDim, int outDim)
    {
        if (rowIndices is null) b.RmsNorm(x, normWeight, normed, rows, inDim, eps);
        else
        {
            b.GatherRows(x, rowIndices, normed, rows, inDim);
            b.RmsNorm(normed, normWeight, normed, rows, inDim, eps);
        }
        b.Linear(normed, weight, bias, output, rows, inDim, outDim);
    }

    /// <summary>See <see cref="IBackend.LinearResidual"/>.</summary>
    public static void LinearResidual(IBackend b, DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray residual, DeviceArray product,
        int rows, int inDim, int outDim)
    {
        b.Linear(x, weight, bias, product, rows, inDim, outDim);
        b.Add(residual, product, (long)rows * outDim);
    }

    /// <summary>See <see cref="IBackend.SiluMulLinearResidual"/>.</summary>
    public static void SiluMulLinearResidual(IBackend b, DeviceArray gate, DeviceArray up, DeviceArray weight, DeviceArray? bias, DeviceArray residual,
        DeviceArray product, int rows, int inDim, int outDim)
    {
        b.SiluMul(gate, up, gate, (long)rows * inDim);
        LinearResidual(b, gate, weight, bias, residual, product, rows, inDim, outDim);
    }

    /// <summary>See <see cref="IBackend.RopeKvWrite"/>.</summary>
    public static void RopeKvWrite(IBackend b, DeviceArray q, DeviceArray k, DeviceArray v, DeviceArray positions, DeviceArray invFreq,
        KvPool pool, KvBatchLayer batch, int heads)
    {
        int rows = batch.Rows;
        b.Rope(q, positions, invFreq, rows, heads, pool.HeadDim);
        b.Rope(k, positions, invFreq, rows, pool.KvHeads, pool.HeadDim);
        b.KvWrite(pool, batch, k, v);
    }

    /// <summary>
    /// See <see cref="IBackend.ChooseTokens"/>: the logits, the rows' settings and histories copied to the host,
    /// <see cref="TokenChoice.Choose"/> per row, the results copied back.
    /// </summary>
    public static void ChooseTokens(IBackend b, DeviceArray logits, int rows, int vocab, DeviceArray choices, DeviceArray history, DeviceArray output)
    {
        if (rows == 0) return;
        var hostLogits = new float[(long)rows * vocab];
        var hostChoices = new int[rows * TokenChoice.Ints];
        var hostHistory = new int[history.Length];
        b.Download<float>(logits.View(0, hostLogits.Length), hostLogits);
        b.Download<int>(choices.View(0, hostChoices.Length), hostChoices);
        b.Download<int>(history, hostHistory);
        var result = new int[rows * TokenChoice.Outputs];
        for (int r = 0; r < rows; r++)
        {
            var choice = TokenChoice.Read(hostChoices.AsSpan(r * TokenChoice.Ints, TokenChoice.Ints));
            var outcome = TokenChoice.Choose(hostLogits.AsSpan(r * vocab, vocab), choice, hostHistory);
            outcome.Write(result.AsSpan(r * TokenChoice.Outputs, TokenChoice.Outputs));
        }
        b.Upload<int>(output, result);
    }
}
