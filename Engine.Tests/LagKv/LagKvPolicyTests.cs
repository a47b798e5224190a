using Engine.Core.Kv.LagKv;
using Engine.Kernels;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.LagKv.LagKvPolicyHarness;

namespace Engine.Tests.LagKv;

/// <summary>
/// <see cref="Engine.Models.Kv.LagKvPolicy"/> driven like the forward pass drives it over prefill
/// chunks and many decode steps: lengths follow the formula, the device cache holds exactly the
/// float64 reference's kept tokens, pages never leak, no KV byte goes to the host.
/// </summary>
[TestFixture]
public class LagKvPolicyTests
{
    private const int Layers = 3;

    public static IEnumerable<TestCaseData> Cases() =>
        TestBackends.Available().SelectMany(b => new[]
        {
            new TestCaseData(b, new[] { 100, 37, 163 }, 400),
            new TestCaseData(b, new[] { 4 + 2 * 32 }, 300),
            new TestCaseData(b, new[] { 20 }, 260),
        });

    [TestCaseSource(nameof(Cases))]
    public void ReferenceModeCompressesOnScheduleWithoutLeaksOrHostTraffic(string backendName, int[] prefillChunks, int decodeSteps)
    {
        using IBackend backend = TestBackends.Create(backendName);
        if (backend is not ILagKvOps) { Assert.Ignore($"{backendName} has no LagKV ops"); return; }
        var options = new LagKvOptions { SinkSize = 4, LagSize = 32, Retention = 0.25, SkipLayers = new HashSet<int> { 1 } };
        options.Validate(Layers);
        int[] steps = [.. prefillChunks, .. Enumerable.Repeat(1, decodeSteps)];
        int tokens = steps.Sum();
        var harness = new LagKvPolicyHarness(backend, Layers, tokens, prefillChunks.Max(), seed: tokens);
        var references = Enumerable.Range(0, Layers)
            .Select(l => new LagKvHostCache(options, harness.Keys[l], harness.Values[l], KvHeads, tokens, HeadDim)).ToArray();
        var policy = new Engine.Models.Kv.LagKvPolicy(options);
        long bytesToHost = backend.Transfers.BytesToHost;

        for (int s = 0; s < steps.Length; s++)
        {
            int n = steps[s];
            harness.Step(policy, n, s < prefillChunks.Length, s == prefillChunks.Length - 1);
            for (int l = 0; l < Layers; l++)
            {
                if (options.Compresses(l)) references[l].Update(n);
                var layer = harness.Sequence.Layers[l];
                int expected = options.Compresses(l) ? (int)LagKvSchedule.LengthAfter(options, harness.Seen) : harness.Seen;
                Assert.That(layer.PhysicalLength, Is.EqualTo(expected), $"layer {l} after {harness.Seen} tokens");
                Assert.That(layer.Pages.Count, Is.EqualTo((expected + PageSize - 1) / PageSize), $"layer {l} pages");
            }
            Assert.That(harness.Cache.UsedPages, Is.EqualTo(harness.Sequence.PagesHeld));
        }
        Assert.That(backend.Transfers.BytesToHost, Is.EqualTo(bytesToHost), "LagKV moved bytes to the host");

        var stats = harness.Sequence.Stats();
        Assert.That(stats.Sum(x => x.Compressions), Is.GreaterThan(0));
        Assert.That(stats[1].Skipped && stats[1].Compressions == 0 && stats[1].PhysicalLength == tokens);
        Assert.That(stats[0].CompressedPartitions, Is.EqualTo(LagKvSchedule.CompressedPartitionsAfter(options, tokens)));
        foreach (int l in new[] { 0, 2 })
            for (int h = 0; h < KvHeads; h++)
                harness.AssertHolds(l, h, references[l].Slots(h));
        harness.ReleaseAndAssertNoLeak();
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.Available))]
    public void PressModeKeepsFloorOfTheRetainedFractionOnceAfterPrefill(string backendName)
    {
        using IBackend backend = TestBackends.Create(backendName);
        if (backend is not ILagKvOps) { Assert.Ignore($"{backendName} has no LagKV ops"); return; }
        var options = new LagKvOptions { SinkSize = 4, LagSize = 16, Retention = 0.3, Mode = LagKvMode.Press };
        int[] prefill = [50, 71];
        int prompt = prefill.Sum(), decode = 40, tokens = prompt + decode;
        var harness = new LagKvPolicyHarness(backend, 2, tokens, prefill.Max(), seed: 77);
        var policy = new Engine.Models.Kv.LagKvPolicy(options);

        harness.Step(policy, prefill[0], true, false);
        Assert.That(harness.Sequence.Layers[0].PhysicalLength, Is.EqualTo(prefill[0]), "press waits for the end of the context");
        harness.Step(policy, prefill[1], true, true);
        int kept = (int)Math.Floor(prompt * 0.3);
        Assert.That(harness.Sequence.Layers.Select(l => l.PhysicalLength), Is.All.EqualTo(kept));
        for (int i = 0; i < decode; i++) harness.Step(policy, 1, false, false);
        Assert.That(harness.Sequence.Layers.Select(l => l.PhysicalLength), Is.All.EqualTo(kept + decode), "generated tokens are never compressed");

        for (int l = 0; l < 2; l++)
            for (int h = 0; h < KvHeads; h++)
            {
                int[] expected = LagKvHostReference.PressKept(harness.Keys[l], harness.Values[l], h, tokens, prompt, HeadDim, options);
                Assert.That(expected, Has.Length.EqualTo(kept));
                Assert.That(expected.Take(options.SinkSize), Is.EqualTo(Enumerable.Range(0, options.SinkSize)), "the sink is forced in");
                harness.AssertHolds(l, h, [.. expected, .. Enumerable.Range(prompt, decode)]);
            }
        harness.ReleaseAndAssertNoLeak();
    }
}
