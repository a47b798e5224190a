using Engine.Core;
using Engine.Core.Sampling;
using Engine.Kernels;

namespace Engine.Models.Scheduling;

/// <summary>
/// Picks each sequence's next token from a forward step's logits with that sequence's own sampling
/// settings. When every row is greedy without penalties or logprobs, one device argmax over all rows
/// runs and only the indices and the chosen logits cross to the host; otherwise the step's logits are
/// copied to the host once and each row is sampled (or argmaxed) there.
/// A row whose logits are not finite yields no token but the reason: the request ends with an error instead.
/// </summary>
internal sealed class TokenChooser(IBackend backend, int vocab) : IDisposable
{
    private float[] _host = [];
    private readonly float[] _one = new float[1];
    private int[] _indices = [];
    private DeviceArray? _argmax;

    /// <summary>The chosen token of each run and its logprobs where asked for; or, where the logits were not finite, why (token -1).</summary>
    public (int Token, IReadOnlyList<TokenLogprob>? Top, string? Fault)[] Choose(IReadOnlyList<SequenceRun> runs, ForwardLogits logits, IReadOnlyList<int> entryOf)
    {
        var chosen = new (int, IReadOnlyList<TokenLogprob>?, string?)[runs.Count];
        bool anyOnHost = runs.Any(NeedsHost);
        int rows = (int)(logits.Logits.Length / vocab);
        if (anyOnHost)
        {
            int floats = (int)logits.Logits.Length;
            if (_host.Length < floats) _host = new float[floats];
            backend.Download<float>(logits.Logits, _host.AsSpan(0, floats));
        }
        else
        {
            if (_argmax is null || _argmax.Length < rows)
            {
                _argmax?.Dispose();
                _argmax = backend.Allocate(Core.DType.I32, Math.Max(rows, 16));
            }
            if (_indices.Length < rows) _indices = new int[Math.Max(rows, 16)];
            backend.ArgmaxRows(logits.Logits, rows, vocab, _argmax);
            backend.Download<int>(_argmax.View(0, rows), _indices.AsSpan(0, rows));
        }
        for (int i = 0; i < runs.Count; i++)
        {
            var run = runs[i];
            int entry = entryOf[i];
            long rowStart = (long)(logits.FirstRow[entry] + logits.RowCount[entry] - 1) * vocab;
            if (anyOnHost)
            {
                var row = _host.AsSpan((int)rowStart, vocab);
                if (Generation.NonFiniteLogits.CheckAll(row) is { } fault) { chosen[i] = (-1, null, fault); continue; }
                var top = run.Options.Logprobs > 0 ? TopLogprobs.Compute(row, run.Options.Logprobs) : null;
                chosen[i] = (run.Sampler.Sample(row, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(run.History), run.Generated), top, null);
            }
            else
            {
                var row = logits.Logits.View(rowStart, vocab);
                int token = _indices[(int)(rowStart / vocab)];
                // NaN logits make every comparison false: the winner's own logit tells.
                backend.Download<float>(row.View(token, 1), _one);
                string? fault = Generation.NonFiniteLogits.CheckChosen(_one[0], token);
                chosen[i] = (fault is null ? token : -1, null, fault);
            }
        }
        return chosen;
    }

    private static bool NeedsHost(SequenceRun run)
    {
        var s = run.Options.Sampling;
        return !(s.IsGreedy && s.RepetitionPenalty == 1.0 && s.FrequencyPenalty == 0 && s.PresencePenalty == 0 && run.Options.Logprobs == 0);
    }

    public void Dispose() => _argmax?.Dispose();
}
