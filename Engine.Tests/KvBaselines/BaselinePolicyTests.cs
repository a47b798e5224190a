using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;
using Engine.Models.Kv;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.KvBaselines;

/// <summary>
/// StreamingLLM, SnapKV and H2O driven like the forward pass drives them (prefill chunks of the LagKV
/// schedule, then decode steps) on random K/V/Q: every layer holds LagKV's budget after every step,
/// the device cache holds exactly the float64 reference's kept tokens per head, pages never leak.
/// </summary>
[TestFixture]
public class BaselinePolicyTests
{
    private const int Layers = 2;

    public static IEnumerable<TestCaseData> Cases() =>
        TestBackends.Available().SelectMany(b => Enum.GetValues<BaselineKind>().SelectMany(kind => new[]
        {
            new TestCaseData(b, kind, new[] { 4 + 2 * 16, 16, 16, 16 }, 20, DType.F32),
            new TestCaseData(b, kind, new[] { 60, 9 }, 12, DType.BF16),
        }));

    [TestCaseSource(nameof(Cases))]
    public void KeepsTheReferenceTokensAtLagKvBudgetWithoutLeaks(string backendName, BaselineKind kind, int[] prefillChunks, int decodeSteps, DType dtype)
    {
        using IBackend backend = TestBackends.Create(backendName);
        var options = new LagKvOptions { SinkSize = 4, LagSize = 16, Retention = 0.25, SkipLayers = new HashSet<int> { 1 } };
        var budget = new KvBudget(options);
        int[] steps = [.. prefillChunks, .. Enumerable.Repeat(1, decodeSteps)];
        int tokens = steps.Sum();
        using var harness = new BaselineHarness(backend, Layers, tokens, prefillChunks.Max(), seed: tokens + (int)kind, dtype);
        var reference = new BaselineHostReference(kind, budget, harness.Keys[0], harness.Queries[0], tokens);
        IKvCachePolicy policy = kind switch
        {
            BaselineKind.StreamingLlm => new StreamingLlmPolicy(budget),
            BaselineKind.SnapKv => new SnapKvPolicy(budget),
            _ => new H2OPolicy(budget),
        };
        try
        {
            int compressions = 0;
            for (int s = 0; s < steps.Length; s++)
            {
                harness.Step(policy, steps[s], s < prefillChunks.Length);
                reference.Step(steps[s]);
                Assert.That(harness.Sequence.Layers[0].PhysicalLength, Is.EqualTo(budget.SlotsAfter(harness.Seen)), $"layer 0 after step {s}");
                Assert.That(harness.Sequence.Layers[1].PhysicalLength, Is.EqualTo(harness.Seen), "the skipped layer keeps everything");
                if (harness.Sequence.Layers[0].PhysicalLength < harness.Seen) compressions++;
                if (s == prefillChunks.Length - 1 || s == steps.Length - 1)
                    for (int h = 0; h < BaselineHarness.KvHeads; h++)
                        harness.AssertHolds(0, h, reference.Held(h));
            }
            Assert.That(compressions, Is.GreaterThan(0), "the test must exercise eviction");
            harness.ReleaseAndAssertNoLeak();
        }
        finally
        {
            (policy as IDisposable)?.Dispose();
        }
    }

    [Test]
    public void TopScoresBreaksTiesTowardTheLowerIndex()
    {
        Assert.That(TopScores.Select([0.5f, 2f, 0.5f, 2f, 1f], 3), Is.EqualTo(new[] { 1, 3, 4 }));
        Assert.That(TopScores.Select([1f, 1f, 1f, 1f], 2), Is.EqualTo(new[] { 0, 1 }));
    }

    [Test]
    public void StreamingLlmKeepsTheSinkAndTheMostRecent()
    {
        Assert.That(StreamingLlmPolicy.KeptSlots(20, 8, 4), Is.EqualTo(new[] { 0, 1, 2, 3, 16, 17, 18, 19 }));
    }
}
