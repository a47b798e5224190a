using System.CommandLine;
using Engine.Cli.Formatting;
using Engine.Core;
using Engine.Kernels;
using Engine.Models;

namespace Engine.Cli.Options;

/// <summary>The flags that load an engine, shared by `engine run` and `engine serve`: --device, --threads, --kernels, --quantize, --kv-memory, --page-size, --kv-dtype.</summary>
public sealed class EngineLoadOptions
{
    public Option<string> Device { get; } = CommonOptions.Device();
    public Option<string?> KvMemory { get; } = new("--kv-memory") { Description = "KV cache pool size, e.g. 512M or 2G (default: 90% of free memory, at most a full context)" };
    public Option<int> PageSize { get; } = new("--page-size") { Description = "KV slots per page (a power of two)", DefaultValueFactory = _ => 16 };
    public Option<string?> KvDType { get; } = new("--kv-dtype") { Description = "KV cache element type: f32, f16 or bf16 (default: the model's dtype)" };
    public Option<int> Threads { get; } = CommonOptions.Threads();
    public Option<string> Kernels { get; } = KernelSetOption.Create();
    public Option<string?> Quantize { get; } = QuantizeOption.Create();

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Device, KvMemory, PageSize, KvDType, Threads, Kernels, Quantize })
            command.Options.Add(option);
    }

    public EngineOptions Read(ParseResult parsed)
    {
        DType? kvDType = null;
        if (parsed.GetValue(KvDType) is { } kvText)
            kvDType = DTypes.TryParse(kvText, out var t) ? t : throw new EngineException($"--kv-dtype: '{kvText}' is not one of f32, f16, bf16");
        int pageSize = parsed.GetValue(PageSize);
        if (pageSize <= 0 || (pageSize & (pageSize - 1)) != 0) throw new EngineException($"--page-size must be a power of two, got {pageSize}");
        int threads = CommonOptions.ReadThreads(parsed, Threads);
        return new EngineOptions
        {
            Device = parsed.GetValue(Device)!,
            Threads = threads,
            Kernels = KernelSetOption.Read(parsed, Kernels),
            Quantize = QuantizeOption.Read(parsed, Quantize),
            PageSize = pageSize,
            KvDType = kvDType,
            KvMemoryBytes = parsed.GetValue(KvMemory) is { } memory ? MemorySizeParser.Parse(memory, "--kv-memory") : null,
        };
    }
}
