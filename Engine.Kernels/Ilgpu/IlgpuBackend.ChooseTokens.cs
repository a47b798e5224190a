using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Token choice on the device (<see cref="IBackend.ChooseTokens"/>, the algorithm of <see cref="TokenChoice"/>): one group
/// per row, all arithmetic in float64 as the host sampler. Non-finite check (the first bad index, group minimum); the
/// penalties through per-row marks (bit 0: the id is in the history, bits 1..: its count among the generated ids, set
/// with integer atomics, so the result does not depend on thread order); greedy argmax (ties to the lowest id); then
/// temperature; top-k as a bitwise search for the k-th largest score's order-preserving 64-bit key (64 group counts;
/// ties with it kept, as the host); top-p as a bitwise search for the smallest probability key whose mass above stays
/// below p (64 group sums; the rare tie at the cut is resolved in id order by one thread, as the host's stable sort);
/// min-p against the top probability; and the draw: u from the counter-based generator, the first id whose cumulative
/// probability (in id order: contiguous chunks per thread, an exclusive scan of the chunk sums) exceeds u. Only the
/// chosen id (and the fault, if any) is left for the host to read.
/// </summary>
public sealed partial class IlgpuBackend
{
    private DeviceArray? _choiceScratch, _choiceMarks;

    [KernelInstance]
    internal static void ChooseTokensKernel(ArrayView<float> logits, ArrayView<int> choices, ArrayView<int> history, ArrayView<double> scratch,
        ArrayView<int> marks, ArrayView<int> output, int vocab)
    {
        int row = Grid.IdxX, t = Group.IdxX, threads = Group.DimX;
        long logitBase = (long)row * vocab, outBase = (long)row * TokenChoice.Outputs, c = (long)row * TokenChoice.Ints;
        long scoreBase = 2L * row * vocab, probBase = scoreBase + vocab, markBase = (long)row * vocab;

        int bad = int.MaxValue;
        for (int i = t; i < vocab && bad == int.MaxValue; i += threads)
            if ((Interop.FloatAsInt(logits[logitBase + i]) & 0x7F80_0000u) == 0x7F80_0000u) bad = i;
        bad = GroupExtensions.AllReduce<int, MinInt32>(bad);
        if (bad != int.MaxValue)
        {
            if (t == 0) Store(output, outBase, -1, bad, (int)Interop.FloatAsInt(logits[logitBase + bad]));
            return;
        }

        double temperature = ReadDouble(choices, c + TokenChoice.TemperatureAt), topP = ReadDouble(choices, c + TokenChoice.TopPAt);
        double minP = ReadDouble(choices, c + TokenChoice.MinPAt), repetition = ReadDouble(choices, c + TokenChoice.RepetitionAt);
        double frequency = ReadDouble(choices, c + TokenChoice.FrequencyAt), presence = ReadDouble(choices, c + TokenChoice.PresenceAt);
        int topK = choices[c + TokenChoice.TopKAt], historyStart = choices[c + TokenChoice.HistoryStartAt];
        int historyLength = choices[c + TokenChoice.HistoryLengthAt], generated = choices[c + TokenChoice.GeneratedAt];
        bool repeat = repetition != 1.0, counted = (frequency != 0 || presence != 0) && generated > 0;

        if (repeat || counted)
        {
            for (int i = t; i < vocab; i += threads) marks[markBase + i] = 0;
            Group.Barrier();
            int firstGenerated = historyLength - XMath.Min(generated, historyLength);
            for (int j = t; j < historyLength; j += threads)
            {
                int id = history[historyStart + j];
                if (id < 0 || id >= vocab) continue;
                if (repeat) Atomic.Or(ref marks[markBase + id], 1);
                if (counted && j >= firstGenerated) Atomic.Add(ref marks[markBase + id], 2);
            }
            Group.Barrier();
        }
        double best = double.NegativeInfinity;
        int bestIndex = int.MaxValue;
        for (int i = t; i < vocab; i += threads)
        {
            double s = logits[logitBase + i];
            if (repeat || counted)
            {
                int m = marks[markBase + i];
                if (repeat && (m & 1) != 0) s = s > 0 ? s / repetition : s * repetition;
                if (counted && m >= 2) s -= frequency * (m >> 1) + presence;
            }
            if (temperature != 0) s /= temperature;
            scratch[scoreBase + i] = s;
            if (s > best) { best = s; bestIndex = i; }
        }
        if (temperature == 0)
        {
            double max = GroupExtensions.AllReduce<double, MaxDouble>(best);
            int index = GroupExtensions.AllReduce<int, MinInt32>(best == max ? bestIndex : int.MaxValue);
            if (t == 0) Store(output, outBase, index, -1, 0);
            return;
        }
        Group.Barrier();

        if (topK > 0 && topK < vocab)
        {
            ulong kth = 0;
            for (int bit = 63; bit >= 0; bit--)
            {
                ulong candidate = kth | (1UL << bit);
                int count = 0;
                for (int i = t; i < vocab; i += threads) if (OrderedKey(scratch[scoreBase + i]) >= candidate) count++;
                if (GroupExtensions.AllReduce<int, AddInt32>(count) >= topK) kth = candidate;
            }
            for (int i = t; i < vocab; i += threads)
                if (OrderedKey(scratch[scoreBase + i]) < kth) scratch[scoreBase + i] = double.NegativeInfinity;
            Group.Barrier();
        }

        if (topP < 1)
        {
            Probabilities(scratch, scoreBase, probBase, vocab);
            // The largest key L whose mass strictly above is still >= p; kept: keys above L (the cut's key is L + 1).
            ulong level = 0;
            if (MassAbove(scratch, probBase, vocab, 0) >= topP)
                for (int bit = 63; bit >= 0; bit--)
                {
                    ulong candidate = level | (1UL << bit);
                    if (MassAbove(scratch, probBase, vocab, candidate) >= topP) level = candidate;
                }
            ulong cut = level + 1;
            int tied = 0, above = 0;
            for (int i = t; i < vocab; i += threads)
            {
                ulong key = Interop.FloatAsInt(scratch[probBase + i]);
                if (key == cut) tied++;
                else if (key > cut) above++;
                else scratch[scoreBase + i] = double.NegativeInfinity;
            }
            tied = GroupExtensions.AllReduce<int, AddInt32>(tied);
            above = GroupExtensions.AllReduce<int, AddInt32>(above);
            double massAbove = MassAbove(scratch, probBase, vocab, cut);
            if (tied > 1 && t == 0)
            {
                // Tokens of equal probability at the cut: the host's stable order takes them by id until the mass reaches p.
                double mass = massAbove;
                for (int i = 0; i < vocab; i++)
                {
                    double p = scratch[probBase + i];
                    if (Interop.FloatAsInt(p) != cut) continue;
                    if (above > 0 && mass >= topP) scratch[scoreBase + i] = double.NegativeInfinity;
                    mass += p;
                    above++;
                }
            }
            Group.Barrier();
        }

        if (minP > 0)
        {
            double top = Probabilities(scratch, scoreBase, probBase, vocab);
            double threshold = top * minP;
            for (int i = t; i < vocab; i += threads)
                if (scratch[probBase + i] < threshold) scratch[scoreBase + i] = double.NegativeInfinity;
            Group.Barrier();
        }

        Probabilities(scratch, scoreBase, probBase, vocab);
        double u = (Mix(ReadSeed(choices, c) ^ Mix((uint)choices[c + TokenChoice.CounterAt])) >> 11) * (1.0 / 9007199254740992.0);
        int chunk = (vocab + threads - 1) / threads;
        int from = XMath.Min(vocab, t * chunk), to = XMath.Min(vocab, from + chunk);
        double partial = 0;
        for (int i = from; i < to; i++) partial += scratch[probBase + i];
        double running = GroupExtensions.ExclusiveScan<double, AddDouble>(partial);
        int chosen = int.MaxValue, last = -1;
        for (int i = from; i < to; i++)
        {
            double p = scratch[probBase + i];
            if (p == 0) continue;
            running += p;
            last = i;
            if (u < running) { chosen = i; break; }
        }
        chosen = GroupExtensions.AllReduce<int, MinInt32>(chosen);
        last = GroupExtensions.AllReduce<int, MaxInt32>(last);
        if (t == 0) Store(output, outBase, chosen != int.MaxValue ? chosen : XMath.Max(last, 0), -1, 0);
    }

    /// <summary>probs = softmax(scores) of one row, as the host's (exp(s - max) / sum); returns the largest probability.</summary>
    private static double Probabilities(ArrayView<double> scratch, long scoreBase, long probBase, int vocab)
    {
        int t = Group.IdxX, threads = Group.DimX;
        double max = double.NegativeInfinity;
        for (int i = t; i < vocab; i += threads) max = XMath.Max(max, scratch[scoreBase + i]);
        max = GroupExtensions.AllReduce<double, MaxDouble>(max);
        double sum = 0;
        for (int i = t; i < vocab; i += threads)
        {
            double e = XMath.Exp(scratch[scoreBase + i] - max);
            scratch[probBase + i] = e;
            sum += e;
        }
        sum = GroupExtensions.AllReduce<double, AddDouble>(sum);
        double top = 0;
        for (int i = t; i < vocab; i += threads)
        {
            double p = scratch[probBase + i] / sum;
            scratch[probBase + i] = p;
            top = XMath.Max(top, p);
        }
        top = GroupExtensions.AllReduce<double, MaxDouble>(top);
        Group.Barrier();
        return top;
    }

    /// <summary>Total probability of the row's tokens whose probability (as its bits: non-negative doubles order as their bits) is above key.</summary>
    private static double MassAbove(ArrayView<double> scratch, long probBase, int vocab, ulong key)
    {
        double mass = 0;
        for (int i = Group.IdxX; i < vocab; i += Group.DimX)
        {
            double p = scratch[probBase + i];
            if (Interop.FloatAsInt(p) > key) mass += p;
        }
        return GroupExtensions.AllReduce<double, AddDouble>(mass);
    }

    /// <summary>A double's bits as an unsigned key with the same order (negatives flipped, -0 as +0).</summary>
    private static ulong OrderedKey(double value)
    {
        ulong bits = Interop.FloatAsInt(value == 0 ? 0.0 : value);
        return (bits & 0x8000_0000_0000_0000UL) != 0 ? ~bits : bits | 0x8000_0000_0000_0000UL;
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static double ReadDouble(ArrayView<int> choices, long at) => Interop.IntAsFloat((uint)choices[at] | (ulong)(uint)choices[at + 1] << 32);

    private static ulong ReadSeed(ArrayView<int> choices, long c) => (uint)choices[c + TokenChoice.SeedAt] | (ulong)(uint)choices[c + TokenChoice.SeedAt + 1] << 32;

    private static void Store(ArrayView<int> output, long at, int token, int bad, int bits)
    {
        output[at] = token;
        output[at + 1] = bad;
        output[at + 2] = bits;
    }

    public void ChooseTokens(DeviceArray logits, int rows, int vocab, DeviceArray choices, DeviceArray history, DeviceArray output)
    {
        Require(vocab > 0 && logits.DType == DType.F32 && logits.Length >= (long)rows * vocab, "token choice needs F32 logits [rows, vocab]");
        Require(choices.DType == DType.I32 && choices.Length >= (long)rows * TokenChoice.Ints, "token choice settings must be I32 [rows, TokenChoice.Ints]");
        Require(history.DType == DType.I32 && history.Length > 0, "token choice history must be I32 (at least one element)");
        Require(output.DType == DType.I32 && output.Length >= (long)rows * TokenChoice.Outputs, "token choice output must be I32 [rows, TokenChoice.Outputs]");
        if (rows == 0) return;
        long cells = (long)rows * vocab;
        if (_choiceMarks is null || _choiceMarks.Length < cells)
        {
            _choiceScratch?.Dispose();
            _choiceMarks?.Dispose();
            _choiceScratch = Allocate(DType.F32, 4 * cells); // two doubles per cell: scores, probabilities
            _choiceMarks = Allocate(DType.I32, cells);
        }
        Kernel<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<double>, ArrayView<int>, ArrayView<int>, int>(ChooseTokensKernel)(
            new KernelConfig(rows, Kind == BackendKind.IlgpuCpu ? Accelerator.WarpSize : GroupSize), ViewOf<float>(logits), ViewOf<int>(choices), ViewOf<int>(history), ViewOf<double>(_choiceScratch!),
            ViewOf<int>(_choiceMarks), ViewOf<int>(output), vocab);
    }

    /// <summary>For tests: row <paramref name="row"/>'s final distribution of the last sampled (not greedy) <see cref="ChooseTokens"/> call.</summary>
    internal double[] LastChoiceProbabilities(int row, int vocab)
    {
        var floats = new float[2 * vocab];
        Download<float>(_choiceScratch!.View(4L * row * vocab + 2L * vocab, 2L * vocab), floats);
        return System.Runtime.InteropServices.MemoryMarshal.Cast<float, double>(floats).ToArray();
    }
}
