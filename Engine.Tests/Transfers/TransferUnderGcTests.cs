using Engine.Core;
using Engine.Kernels;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Transfers;

/// <summary>
/// Upload and Download hand the backend a span over managed memory. A compacting GC on another thread
/// may move a young array at any allocation point, so the backend must pin the span for the whole
/// copy: an unpinned raw pointer reads (Upload) or writes (Download) the array's old place. This was
/// the cause of rare wrong-token failures of the KV baseline tests in loaded full-suite runs.
/// </summary>
[TestFixture]
public class TransferUnderGcTests
{
    private const int Rounds = 3000, Elements = 16384;

    public static IEnumerable<string> Backends() => TestBackends.Available();

    [TestCaseSource(nameof(Backends))]
    public void RoundTripsFreshArraysWhileAnotherThreadCompactsTheHeap(string backendName)
    {
        using IBackend backend = TestBackends.Create(backendName);
        using var device = backend.Allocate(DType.F32, Elements);
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() => CompactUntil(stop.Token)) { IsBackground = true };
        collector.Start();
        try
        {
            var random = new Random(1234);
            for (int round = 0; round < Rounds; round++)
            {
                // Fresh young arrays each round: the ones a compacting gen-0 collection moves.
                var sent = new float[Elements];
                for (int i = 0; i < Elements; i++) sent[i] = (float)random.NextDouble() + 0.5f + round;
                backend.Upload<float>(device, sent);
                var received = new float[Elements];
                backend.Download<float>(device, received);
                if (!received.AsSpan().SequenceEqual(sent))
                    Assert.Fail($"round {round}: the round trip lost data ({Mismatches(sent, received)} of {Elements} elements differ)");
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
    }

    /// <summary>Allocates garbage and forces blocking compacting gen-0 collections until cancelled.</summary>
    private static void CompactUntil(CancellationToken stop)
    {
        var keep = new List<byte[]>();
        while (!stop.IsCancellationRequested)
        {
            keep.Add(new byte[256]);
            if (keep.Count > 64) keep.Clear();
            GC.Collect(0, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
    }

    private static int Mismatches(float[] expected, float[] actual) => expected.Zip(actual).Count(p => p.First != p.Second);
}
