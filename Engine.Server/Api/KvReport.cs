using System.Text.Json.Nodes;
using Engine.Models.Generation;

namespace Engine.Server.Api;

/// <summary>
/// The `kv` object of a response: what the request's KV cache held at its end. Logical slots are the
/// tokens each layer saw, physical slots what it kept; their ratio over all layers is the achieved
/// compression, and the slots not kept times the bytes of a slot the memory saved.
/// </summary>
public sealed record KvReport(string Policy, int LogicalLength, long LogicalSlots, long PhysicalSlots, long BytesSaved,
    int PagesUsed, int PageSize, IReadOnlyList<LayerKvLength> Layers)
{
    public double CompressionRatio => PhysicalSlots == 0 ? 1.0 : (double)LogicalSlots / PhysicalSlots;

    /// <param name="bytesPerSlot">KV bytes of one slot of one layer (keys and values of every KV head).</param>
    public static KvReport From(GenerationStats stats, string policy, long bytesPerSlot) =>
        Of(stats.Layers, policy, bytesPerSlot, stats.KvPagesUsed, stats.PageSize);

    /// <summary>A report of per-layer lengths; <paramref name="pagesUsed"/> null: the pages those lengths fill.</summary>
    public static KvReport Of(IReadOnlyList<LayerKvLength> layers, string policy, long bytesPerSlot, int? pagesUsed, int pageSize)
    {
        long logical = layers.Sum(l => (long)l.LogicalLength);
        long physical = layers.Sum(l => (long)l.PhysicalLength);
        int length = layers.Count > 0 ? layers[0].LogicalLength : 0;
        int pages = pagesUsed ?? layers.Sum(l => (l.PhysicalLength + pageSize - 1) / pageSize);
        return new KvReport(policy, length, logical, physical, (logical - physical) * bytesPerSlot, pages, pageSize, layers);
    }

    public JsonObject ToJson() => new()
    {
        ["policy"] = Policy,
        ["logical_length"] = LogicalLength,
        ["physical_length"] = Layers.Count == 0 ? 0 : Layers.Max(l => l.PhysicalLength),
        ["logical_slots"] = LogicalSlots,
        ["physical_slots"] = PhysicalSlots,
        ["compression_ratio"] = Math.Round(CompressionRatio, 4),
        ["bytes_saved"] = BytesSaved,
        ["pages_used"] = PagesUsed,
        ["page_size"] = PageSize,
        ["layers"] = new JsonArray(Layers.Select(l => (JsonNode)new JsonObject
        {
            ["logical_length"] = l.LogicalLength,
            ["physical_length"] = l.PhysicalLength,
            ["pages"] = PageSize == 0 ? 0 : (l.PhysicalLength + PageSize - 1) / PageSize,
        }).ToArray()),
    };
}
