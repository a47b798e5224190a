using System.Text.Json;
using Engine.Tests.Support;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>The GGUF files and references in ../shared/assets/gguf (tests skip when absent).</summary>
internal static class GgufAssets
{
    public static readonly string[] Files =
    [
        "stories260K-f32.gguf", "stories260K-f16.gguf", "stories260K-q8_0.gguf",
        "kq-tiny-f32.gguf", "kq-tiny-bf16.gguf", "kq-tiny-q8_0.gguf", "kq-tiny-q4_0.gguf",
        "kq-tiny-q4_k_m.gguf", "kq-tiny-q5_k_m.gguf", "kq-tiny-q6_k.gguf",
    ];

    public static readonly string[] KqTinyFiles = Files.Where(f => f.StartsWith("kq-tiny", StringComparison.Ordinal)).ToArray();

    public static string Path(string name) => SharedAssets.Require("gguf", name);

    public static JsonDocument Json(string name) => JsonDocument.Parse(File.ReadAllBytes(Path(name)));
}
