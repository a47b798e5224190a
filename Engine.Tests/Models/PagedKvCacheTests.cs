using Engine.Core;
using Engine.Core.Sampling;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Models.Kv;
using NUnit.Framework;

namespace Engine.Tests.Models;

/// <summary>The paged KV store in use: page ownership, return of pages, exhaustion, device page tables.</summary>
public class PagedKvCacheTests
{
    [Test]
    public void SequencesNeverShareAPageAndGiveAllBack()
    {
        var config = TinyModel.Llama();
        using var backend = new Support.ReferenceBackend();
        using var cache = new PagedKvCache(backend, config, pageCount: 40, pageSize: 16, Engine.Core.DType.F32);
        var a = cache.CreateSequence();
        var b = cache.CreateSequence();
        var random = new Random(5);
        for (int step = 0; step < 30; step++)
        {
            var s = step % 2 == 0 ? a : b;
            int layer = random.Next(config.NumLayers);
            s.Layers[layer].Grow(s.Layers[layer].PhysicalLength + random.Next(1, 20));
            if (cache.FreePages < 3) break;
        }
        var owned = a.Layers.Concat(b.Layers).SelectMany(l => l.Pages).ToList();
        Assert.That(owned, Is.Unique, "no page owned twice");
        Assert.That(owned, Has.Count.EqualTo(cache.UsedPages));
        Assert.That(owned.All(cache.IsInUse));
        a.Dispose();
        b.Dispose();
        Assert.That(cache.FreePages, Is.EqualTo(cache.PageCount));
    }

    [Test]
    public void AShortPoolAsksItsReclaimersForIdleSequencesUntilTheReservationFits()
    {
        var config = TinyModel.Llama();
        using var backend = new Support.ReferenceBackend();
        using var cache = new PagedKvCache(backend, config, pageCount: 16, pageSize: 16, Engine.Core.DType.F32);
        var idle = new Queue<KvSequence>();
        for (int i = 0; i < 3; i++)
        {
            var sequence = cache.CreateSequence();
            sequence.Layers[0].Grow(4 * 16); // 4 pages each: 12 of 16 held
            idle.Enqueue(sequence);
        }
        int asked = 0;
        using (cache.AddReclaimer(() => { asked++; if (idle.Count == 0) return false; idle.Dequeue().Dispose(); return true; }))
        {
            Assert.That(cache.CanReserve(4), Is.True);
            Assert.That(asked, Is.Zero, "a pool with room asks nobody");
            Assert.That(cache.CanReserve(9), Is.True, "two idle sequences were enough");
            Assert.That(idle, Has.Count.EqualTo(1));
            Assert.That(cache.CanReserve(17), Is.False, "more than the pool: every idle sequence went, in vain");
            Assert.That(idle, Is.Empty);
        }
        asked = 0;
        Assert.That(cache.CanReserve(17), Is.False);
        Assert.That(asked, Is.Zero, "an unregistered reclaimer is not asked");
    }

    [Test]
    public void ReservationsArePromisedAndKeptApartFromOtherSequences()
    {
        var config = TinyModel.Llama();
        using var backend = new Support.ReferenceBackend();
        using var cache = new PagedKvCache(backend, config, pageCount: 16, pageSize: 16, Engine.Core.DType.F32);
        using var reserved = cache.CreateSequence(reservePages: 10);
        Assert.That(cache.UnreservedFreePages, Is.EqualTo(6));
        Assert.That(cache.CanReserve(7), Is.False);
        using var other = cache.CreateSequence();
        // The unreserved sequence can take the 6 unreserved pages, and no more.
        other.Layers[0].Grow(6 * 16);
        Assert.That(other.CanAppend(16), Is.False, "the reserved pages are not for others");
        Assert.Throws<KvExhaustedException>(() => other.Layers[1].Grow(1));
        // The reserved sequence still gets all 10 of its pages.
        reserved.Layers[0].Grow(10 * 16);
        Assert.That(cache.FreePages, Is.Zero);
        // Pages freed under the reservation are owed to it again.
        reserved.Layers[0].Shrink(0);
        Assert.That(cache.UnreservedFreePages, Is.Zero);
        reserved.Dispose();
        other.Dispose();
        Assert.That(cache.FreePages, Is.EqualTo(16));
        Assert.That(cache.UnreservedFreePages, Is.EqualTo(16));
    }

    [Test]
    public void ExhaustionEndsTheRequestKeepingItsTokensAndReturnsThePages()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        long pageBytes = Kernels.KvPool.BytesPerPageFor(tiny.Config.NumKvHeads, 16, tiny.Config.HeadDim, DType.F32);
        using var engine = InferenceEngine.Create("tiny", new Support.ReferenceBackend(), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { KvMemoryBytes = pageBytes * 4, KvDType = DType.F32 }, ownsBackend: true);
        Assert.That(engine.Cache.PageCount, Is.EqualTo(4));
        var c = engine.Generate(Enumerable.Range(3, 30).ToArray(), new GenerationOptions { MaxTokens = 40, Sampling = SamplingOptions.Greedy });
        var streamed = c.Run().Select(t => t.Id).ToList();
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.KvExhausted));
        Assert.That(c.FinishMessage, Does.Contain("KV cache pool exhausted").And.Not.Contain("\n"));
        // 4 pages of 16 slots hold 32 tokens per layer of 2 layers: the 30-token prompt and one decode token fit.
        Assert.That(streamed, Has.Count.EqualTo(3), "the tokens generated before the pool ran out are kept");
        Assert.That(c.TokenIds, Is.EqualTo(streamed));
        Assert.That(engine.Cache.UsedPages, Is.Zero);
    }

    [Test]
    public void DefaultPoolHoldsOneFullContextAndBudgetsAreChecked()
    {
        var config = TinyModel.Llama();
        using var backend = new Support.ReferenceBackend();
        int pages = PagedKvCache.PagesFor(backend, config, 16, DType.BF16, null, contextLimit: 100);
        Assert.That(pages, Is.EqualTo(7 * config.NumLayers));
        long pageBytes = Kernels.KvPool.BytesPerPageFor(config.NumKvHeads, 16, config.HeadDim, DType.BF16);
        Assert.That(PagedKvCache.PagesFor(backend, config, 16, DType.BF16, pageBytes * 5 + 1, 100), Is.EqualTo(5));
        Assert.Throws<EngineException>(() => PagedKvCache.PagesFor(backend, config, 16, DType.BF16, pageBytes - 1, 100));
    }

    [Test]
    public void DeviceBackendsReportFreeMemoryNetOfTheirAllocations()
    {
        int reporting = 0;
        foreach (string name in Support.TestBackends.Available())
        {
            using var backend = Support.TestBackends.Create(name);
            if (backend.AvailableMemoryBytes is not long before) continue;
            reporting++;
            using (backend.Allocate(DType.F32, 1 << 18))
                Assert.That(backend.AvailableMemoryBytes, Is.EqualTo(before - (1L << 20)), name);
            Assert.That(backend.AvailableMemoryBytes, Is.EqualTo(before), name);
        }
        if (reporting == 0) Assert.Ignore("no backend here reports device memory (host backends leave it to the caller)");
    }
}
