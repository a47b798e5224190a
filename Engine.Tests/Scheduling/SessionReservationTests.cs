using Engine.Core;
using Engine.Core.Sampling;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Tests.Models;
using NUnit.Framework;

namespace Engine.Tests.Scheduling;

/// <summary>
/// A session between turns holds its cache's pages and no more: the rest of its turn's reservation
/// (prompt plus max tokens) goes back when the turn ends, so idle conversations (IChatClient keeps
/// several) do not keep other requests waiting for pages they will never use.
/// </summary>
public class SessionReservationTests
{
    [Test]
    public async Task AnEndedTurnReturnsTheUnusedReservation()
    {
        using var tiny = new TinyModel(TinyModel.Llama(DType.F32) with { MaxPositionEmbeddings = 256 }, seed: 5);
        using var engine = InferenceEngine.Create("tiny", ModelBackends.Create("cpu-simd"), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { PageSize = 8, KvMemoryBytes = 4L << 20 }, ownsBackend: true);
        var options = new GenerationOptions { MaxTokens = 100, IgnoreEos = true, Sampling = SamplingOptions.Greedy };
        using var session = engine.StartSession();

        var first = session.Continue([3, 4, 5, 6, 7], options);
        int received = 0;
        using (var stop = new CancellationTokenSource())
            await foreach (var _ in first.StreamAsync(stop.Token))
                if (++received == 2) stop.Cancel(); // the turn ends far below its 100 tokens
        Assert.That(first.FinishReason, Is.EqualTo(FinishReason.Cancelled));
        Assert.That(engine.Cache.UsedPages, Is.GreaterThan(0), "the session keeps its cache");
        Assert.That(engine.Cache.UnreservedFreePages, Is.EqualTo(engine.Cache.FreePages), "no pages stay promised to the idle session");

        var second = session.Append([8, 9], options with { MaxTokens = 4 });
        Assert.That(await second.RunToEndAsync(), Is.EqualTo(FinishReason.Length));
        Assert.That(engine.Cache.UnreservedFreePages, Is.EqualTo(engine.Cache.FreePages));
        session.Dispose();
        Assert.That(engine.Cache.UsedPages, Is.Zero);
        Assert.That(engine.Cache.UnreservedFreePages, Is.EqualTo(engine.Cache.PageCount));
    }
}
