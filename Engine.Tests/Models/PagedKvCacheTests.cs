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
        var a = cache.CreateSequence(512);
        var b = cache.CreateSequence(512);
        var random = new Random(5);
        for (int step = 0; step < 30; step++)
        {
            var s = step % 2 == 0 ? a : b;
            int layer = random.Next(config.NumLayers);
            s.Grow(layer, random.Next(1, 20));
            if (cache.Allocator.FreePages < 3) break;
        }
        var owned = a.Kv.Layers.Concat(b.Kv.Layers).SelectMany(l => l.Pages).ToList();
        Assert.That(owned, Is.Unique, "no page owned twice");
        Assert.That(owned, Has.Count.EqualTo(cache.Allocator.UsedPages));
        Assert.That(owned.All(cache.Allocator.IsInUse));
        a.Dispose();
        b.Dispose();
        Assert.That(cache.Allocator.FreePages, Is.EqualTo(cache.Allocator.PageCount));
    }

    [Test]
    public void PageTableMirrorFollowsTheHostTable()
    {
        var config = TinyModel.Llama();
        using var backend = new Support.ReferenceBackend();
        using var cache = new PagedKvCache(backend, config, pageCount: 16, pageSize: 16, Engine.Core.DType.F32);
        using var other = cache.CreateSequence(512);
        other.Grow(0, 20); // takes pages 0 and 1, so the next sequence's ids are not 0..n
        using var s = cache.CreateSequence(512);
        s.Grow(1, 40);
        var table = s.PageTable(1);
        var host = new int[3];
        backend.Download<int>(table, host);
        Assert.That(host, Is.EqualTo(s.Kv.Layers[1].Pages.ToArray()));
        long uploads = backend.Transfers.BytesToDevice;
        s.PageTable(1);
        Assert.That(backend.Transfers.BytesToDevice, Is.EqualTo(uploads), "unchanged table is not re-uploaded");
        s.Kv.Layers[1].Shrink(10, cache.Allocator);
        s.PageTable(1);
        Assert.That(backend.Transfers.BytesToDevice, Is.GreaterThan(uploads), "a changed table is");
    }

    [Test]
    public void ExhaustionEndsTheRequestAndReturnsThePages()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        long pageBytes = Kernels.KvPool.BytesPerPageFor(tiny.Config.NumKvHeads, 16, tiny.Config.HeadDim, DType.F32);
        using var engine = InferenceEngine.Create("tiny", new Support.ReferenceBackend(), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { KvMemoryBytes = pageBytes * 4, KvDType = DType.F32 }, ownsBackend: true);
        Assert.That(engine.Cache.Allocator.PageCount, Is.EqualTo(4));
        var c = engine.Generate(Enumerable.Range(3, 30).ToArray(), new GenerationOptions { MaxTokens = 40, Sampling = SamplingOptions.Greedy });
        Assert.DoesNotThrow(() => { foreach (var _ in c.Run()) { } });
        Assert.That(c.FinishMessage, Does.Contain("KV cache pool exhausted").And.Not.Contain("\n"));
        Assert.That(engine.Cache.Allocator.UsedPages, Is.Zero);
        Assert.That(c.FinishReason, Is.EqualTo(Engine.Models.Generation.FinishReason.KvExhausted), "the request ends, its tokens kept");
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
