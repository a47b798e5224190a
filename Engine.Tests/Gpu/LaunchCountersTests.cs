using Engine.Core;
using Engine.Core.Sampling;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;
using Engine.Models;
using Engine.Models.Benchmarks;
using Engine.Models.Generation;
using Engine.Tests.Models;
using NUnit.Framework;

namespace Engine.Tests.Gpu;

/// <summary>The ILGPU backend's launch and host-sync counters, on ILGPU's CPU accelerator (counted the same way on CUDA).</summary>
public sealed class LaunchCountersTests
{
    [Test]
    public void AKnownOpSequenceIsCountedExactly()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        var launches = backend.Launches;
        var random = new Random(5);
        float[] host = Enumerable.Range(0, 40).Select(_ => (float)random.NextDouble() + 0.5f).ToArray();
        using var x = backend.Allocate(DType.F32, 40);
        using var y = backend.Allocate(DType.F32, 40);
        long launches0 = launches.KernelLaunches, syncs0 = launches.HostSyncs;
        long toDevice0 = backend.Transfers.BytesToDevice, toHost0 = backend.Transfers.BytesToHost;

        backend.Upload<float>(x, host);                 // no host wait: staged in pinned memory, copied on the stream
        backend.Upload<float>(y, host);
        backend.Add(x, y, 40);                          // 1 launch
        backend.SiluMul(x, y, x, 40);                   // 1 launch
        int best = backend.Argmax(x, 40);               // 1 launch, 1 sync (its 4-byte download)
        backend.Synchronize();                          // 1 sync
        var back = new float[40];
        backend.Download<float>(x, back);               // 1 sync

        Assert.That(launches.KernelLaunches - launches0, Is.EqualTo(3));
        Assert.That(launches.HostSyncs - syncs0, Is.EqualTo(3));
        Assert.That(backend.Transfers.BytesToDevice - toDevice0, Is.EqualTo(2 * 40 * sizeof(float)));
        Assert.That(backend.Transfers.BytesToHost - toHost0, Is.EqualTo(sizeof(int) + 40 * sizeof(float)));
        Assert.That(back[best], Is.EqualTo(back.Max()));
    }

    [Test]
    public void TheSimdBackendLaunchesNoKernels()
    {
        using var backend = new SimdBackend(1);
        Assert.That(((IBackend)backend).Launches, Is.Null);
        Assert.That(new DecodeCounterProbe(backend).Result, Is.Null);
    }

    [Test]
    public void TheProbeAveragesOverTheDecodeStepsBetweenTheFirstAndLastToken()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        using var a = backend.Allocate(DType.F32, 8);
        var probe = new DecodeCounterProbe(backend);
        backend.Add(a, a, 8);                                        // before the first token: not counted
        probe.OnToken();
        for (int step = 0; step < 3; step++)
        {
            backend.Add(a, a, 8);
            backend.Add(a, a, 8);
            backend.Upload<float>(a, new float[8]);     // asynchronous: not a host sync
            backend.Synchronize();
            probe.OnToken();
        }
        var result = probe.Result!;
        Assert.That(result.Steps, Is.EqualTo(3));
        Assert.That(result.KernelLaunchesPerToken, Is.EqualTo(2));
        Assert.That(result.HostSyncsPerToken, Is.EqualTo(1));
        Assert.That(result.HostDeviceBytesPerToken, Is.EqualTo(32));
    }

    [Test]
    public void AnUploadDoesNotWaitAndLandsBeforeLaterWork()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        using var x = backend.Allocate(DType.F32, 64);
        var values = Enumerable.Range(0, 64).Select(i => (float)i - 20.5f).ToArray();
        long syncs0 = backend.Launches.HostSyncs;
        for (int round = 0; round < 3; round++)
        {
            backend.Upload<float>(x, values);
            values[0] = float.NaN; // the caller may reuse its buffer at once: the bytes were staged
            backend.Add(x, x, 64);
            Assert.That(backend.Launches.HostSyncs - syncs0, Is.EqualTo(round));
            var back = new float[64];
            backend.Download<float>(x, back);
            values[0] = -20.5f;
            Assert.That(back, Is.EqualTo(values.Select(v => 2 * v).ToArray()));
        }
    }

    /// <summary>
    /// MEASUREMENT: today's per-token decode counts for a tiny Qwen2-shaped model (2 layers, GQA 6/2, q/k/v bias, tied
    /// embeddings, bf16) on ILGPU's CPU accelerator, pinned so any change shows here. The budget itself is
    /// <see cref="DecodeMeetsTheLaunchBudget"/>.
    /// </summary>
    [Test]
    public void TodaysDecodeCountsForATinyQwen2()
    {
        using var tiny = new TinyModel(TinyModel.Qwen2(DType.BF16), seed: 3);
        using var engine = TinyEngine(tiny);
        int layers = tiny.Config.NumLayers, vocab = tiny.Config.VocabSize;
        foreach (bool greedy in new[] { true, false })
        {
            var counters = MeasureDecode(engine, greedy);
            TestContext.Out.WriteLine($"tiny Qwen2 ({layers} layers), {(greedy ? "greedy" : "sampled")}: {counters.KernelLaunchesPerToken} launches, " +
                                      $"{counters.HostSyncsPerToken} host syncs, {counters.HostDeviceBytesPerToken} host-device bytes per token");
            // Per layer (6): input RMSNorm + stacked q/k/v product + bias; RoPE on q and k + KV write; attention (splits and
            // their merge in one launch); output product + residual add; post-attention RMSNorm + stacked gate/up product;
            // SiLU*mul + down product + residual add. Per step (3): the embedding; the gather of the rows that need
            // logits + final RMSNorm + LM head; the token choice (greedy or sampled). The probe counts between delivered
            // tokens and the engine loop may run ahead of it, which can only lower the average: bounds, not exact values.
            Assert.That(counters.KernelLaunchesPerToken, Is.InRange(6 * layers - 3, 6 * layers + 3));
            // One host wait per step: the download of the chosen token ids (the uploads are asynchronous).
            Assert.That(counters.HostSyncsPerToken, Is.InRange(0.5, 1));
            // Token ids, positions, page tables and the rows' sampling settings up; ids and fault flags down; never logits.
            Assert.That(counters.HostDeviceBytesPerToken, Is.LessThan(vocab * sizeof(float)));
        }
    }

    [Test]
    public void DecodeMeetsTheLaunchBudget()
    {
        using var tiny = new TinyModel(TinyModel.Qwen2(DType.BF16), seed: 3);
        using var engine = TinyEngine(tiny);
        foreach (bool greedy in new[] { true, false })
        {
            var counters = MeasureDecode(engine, greedy);
            Assert.That(counters.KernelLaunchesPerToken, Is.LessThanOrEqualTo(6 * tiny.Config.NumLayers + 4));
            // At most the chosen tokens' readback per token (the step's end); no wait inside the step.
            Assert.That(counters.HostSyncsPerToken, Is.LessThanOrEqualTo(1));
        }
    }

    private static InferenceEngine TinyEngine(TinyModel tiny) =>
        InferenceEngine.Create("tiny-qwen2", IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!, tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { PageSize = 16, KvMemoryBytes = 1 << 20 }, ownsBackend: true);

    private static DecodeCounters MeasureDecode(InferenceEngine engine, bool greedy)
    {
        var options = new GenerationOptions
        {
            MaxTokens = 6,
            IgnoreEos = true,
            Sampling = greedy ? new SamplingOptions { Temperature = 0 } : new SamplingOptions { Temperature = 0.8, TopK = 20, TopP = 0.9, MinP = 0.02, RepetitionPenalty = 1.1, FrequencyPenalty = 0.2, PresencePenalty = 0.1, Seed = 7 },
        };
        var probe = new DecodeCounterProbe(engine.Backend);
        foreach (var _ in engine.Generate([1, 5, 9, 13, 17], options).Run()) probe.OnToken();
        return probe.Result!;
    }
}
