using System.Runtime.InteropServices;
using Engine.Core;
using Engine.Core.Sampling;
using Engine.Kernels;

namespace Engine.Models.Scheduling;

/// <summary>
/// Picks each sequence's next token from a forward step's logits with that sequence's own sampling settings.
/// - On a backend that launches kernels (ILGPU: CUDA, OpenCL, the CPU simulator), greedy and sampled rows alike are
///   chosen on the device in one dispatch (<see cref="IBackend.ChooseTokens"/>, the algorithm of <see cref="TokenChoice"/>:
///   penalties, temperature, top-k, top-p, min-p, a counter-based draw), and only the chosen ids (and any fault) cross
///   to the host: the step's one host wait. Rows that ask for logprobs take the host path below.
/// - On the SIMD CPU backend (logits already in host memory), rows greedy without penalties or logprobs take one
///   argmax over all rows and read back the chosen logit; every other row is sampled by its <see cref="Sampler"/> on
///   a copy of the logits.
/// Either way a row's token depends only on its own logits, settings and history, never on the batch it is in.
/// A row whose logits are not finite yields no token but the reason: the request ends with an error instead.
/// </summary>
internal sealed class TokenChooser(IBackend backend, int vocab) : IDisposable
{
    private readonly bool _onDevice = backend.Launches is not null;
    private float[] _host = [];
    private readonly float[] _one = new float[1];
    private int[] _indices = [], _choiceHost = [], _historyHost = [], _outputHost = [];
    private DeviceArray? _argmax, _choices, _history, _output;

    /// <summary>The chosen token of each run and its logprobs where asked for; or, where the logits were not finite, why (token -1).</summary>
    public (int Token, IReadOnlyList<TokenLogprob>? Top, string? Fault)[] Choose(IReadOnlyList<SequenceRun> runs, ForwardLogits logits, IReadOnlyList<int> entryOf)
    {
        var chosen = new (int, IReadOnlyList<TokenLogprob>?, string?)[runs.Count];
        var onHost = new List<int>();
        var onDevice = new List<int>();
        for (int i = 0; i < runs.Count; i++) (_onDevice && runs[i].Options.Logprobs == 0 ? onDevice : onHost).Add(i);
        if (onDevice.Count > 0) ChooseOnDevice(runs, logits, entryOf, onDevice, chosen);
        if (onHost.Count == 0) return chosen;
        if (!_onDevice && onHost.All(i => !NeedsHost(runs[i]))) ArgmaxOnBackend(logits, entryOf, onHost, chosen);
        else SampleOnHost(runs, logits, entryOf, onHost, chosen);
        return chosen;
    }

    /// <summary>The row of logits run i's token comes from: its entry's last.</summary>
    private static int RowOf(ForwardLogits logits, IReadOnlyList<int> entryOf, int i) => logits.FirstRow[entryOf[i]] + logits.RowCount[entryOf[i]] - 1;

    private void ChooseOnDevice(IReadOnlyList<SequenceRun> runs, ForwardLogits logits, IReadOnlyList<int> entryOf, List<int> which,
        (int, IReadOnlyList<TokenLogprob>?, string?)[] chosen)
    {
        // Every logit row gets a setting (rows no run reads are cheap greedy ones), so the launch covers rows [0, rows).
        int rows = (int)(logits.Logits.Length / vocab);
        int historyLength = 1;
        foreach (int i in which) if (Penalised(runs[i].Options.Sampling)) historyLength += runs[i].History.Count;
        Grow(ref _choiceHost, rows * TokenChoice.Ints);
        Grow(ref _historyHost, historyLength);
        Grow(ref _outputHost, rows * TokenChoice.Outputs);
        var settings = _choiceHost.AsSpan(0, rows * TokenChoice.Ints);
        for (int r = 0; r < rows; r++) TokenChoice.Of(SamplingOptions.Greedy, 0, 0, 0, 0, 0).Write(settings.Slice(r * TokenChoice.Ints, TokenChoice.Ints));
        int next = 1; // element 0 is a placeholder: the history array is never empty
        foreach (int i in which)
        {
            var run = runs[i];
            var sampling = run.Options.Sampling;
            int start = next, length = 0;
            if (Penalised(sampling))
            {
                CollectionsMarshal.AsSpan(run.History).CopyTo(_historyHost.AsSpan(start));
                length = run.History.Count;
                next += length;
            }
            TokenChoice.Of(sampling, run.DeviceSeed, run.Generated, start, length, run.Generated)
                .Write(settings.Slice(RowOf(logits, entryOf, i) * TokenChoice.Ints, TokenChoice.Ints));
        }
        EnsureDevice(ref _choices, settings.Length);
        EnsureDevice(ref _history, historyLength);
        EnsureDevice(ref _output, rows * TokenChoice.Outputs);
        backend.Upload<int>(_choices!, settings);
        backend.Upload<int>(_history!, _historyHost.AsSpan(0, historyLength));
        backend.ChooseTokens(logits.Logits, rows, vocab, _choices!, _history!.View(0, historyLength), _output!);
        var results = _outputHost.AsSpan(0, rows * TokenChoice.Outputs);
        backend.Download<int>(_output!.View(0, results.Length), results); // the step's one host wait
        foreach (int i in which)
        {
            var outcome = TokenChoice.Outcome.Read(results.Slice(RowOf(logits, entryOf, i) * TokenChoice.Outputs, TokenChoice.Outputs));
            chosen[i] = outcome.Token >= 0 ? (outcome.Token, null, null)
                : (-1, null, Generation.NonFiniteLogits.At(outcome.BadIndex, BitConverter.Int32BitsToSingle(outcome.BadBits)));
        }
    }

    /// <summary>Whether a row's choice reads its history (repetition, frequency or presence penalty).</summary>
    private static bool Penalised(SamplingOptions s) => s.RepetitionPenalty != 1.0 || s.FrequencyPenalty != 0 || s.PresencePenalty != 0;

    private void ArgmaxOnBackend(ForwardLogits logits, IReadOnlyList<int> entryOf, List<int> which, (int, IReadOnlyList<TokenLogprob>?, string?)[] chosen)
    {
        int rows = (int)(logits.Logits.Length / vocab);
        EnsureDevice(ref _argmax, rows);
        Grow(ref _indices, rows);
        backend.ArgmaxRows(logits.Logits, rows, vocab, _argmax!);
        backend.Download<int>(_argmax!.View(0, rows), _indices.AsSpan(0, rows));
        foreach (int i in which)
        {
            int row = RowOf(logits, entryOf, i);
            int token = _indices[row];
            // NaN logits make every comparison false: the winner's own logit tells.
            backend.Download<float>(logits.Logits.View((long)row * vocab + token, 1), _one);
            string? fault = Generation.NonFiniteLogits.CheckChosen(_one[0], token);
            chosen[i] = (fault is null ? token : -1, null, fault);
        }
    }

    private void SampleOnHost(IReadOnlyList<SequenceRun> runs, ForwardLogits logits, IReadOnlyList<int> entryOf, List<int> which,
        (int, IReadOnlyList<TokenLogprob>?, string?)[] chosen)
    {
        int floats = (int)logits.Logits.Length;
        Grow(ref _host, floats);
        backend.Download<float>(logits.Logits, _host.AsSpan(0, floats));
        foreach (int i in which)
        {
            var run = runs[i];
            var row = _host.AsSpan(RowOf(logits, entryOf, i) * vocab, vocab);
            if (Generation.NonFiniteLogits.CheckAll(row) is { } fault) { chosen[i] = (-1, null, fault); continue; }
            var top = run.Options.Logprobs > 0 ? TopLogprobs.Compute(row, run.Options.Logprobs) : null;
            chosen[i] = (run.Sampler.Sample(row, CollectionsMarshal.AsSpan(run.History), run.Generated), top, null);
        }
    }

    private static bool NeedsHost(SequenceRun run) => !(run.Options.Sampling.IsGreedy && !Penalised(run.Options.Sampling) && run.Options.Logprobs == 0);

    private static void Grow<T>(ref T[] array, int length)
    {
        if (array.Length < length) array = new T[Math.Max(length, 2 * array.Length)];
    }

    private void EnsureDevice(ref DeviceArray? array, int length)
    {
        if (array is not null && array.Length >= length) return;
        array?.Dispose();
        array = backend.Allocate(DType.I32, Math.Max(Math.Max(length, 16), 2 * (int)(array?.Length ?? 0)));
    }

    public void Dispose()
    {
        _argmax?.Dispose();
        _choices?.Dispose();
        _history?.Dispose();
        _output?.Dispose();
    }
}
