using System.Text.Json;
using Engine.Core.Kv.LagKv;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>
/// The float64 host LagKV against the reference implementation's output on raw K/V
/// (../shared/assets/references/lagkv-vectors): same kept token set per KV head and same rows, for
/// every case and every feed (one shot, one token at a time, chunked).
/// </summary>
[TestFixture]
public class LagKvVectorTests
{
    private const string Folder = "references/lagkv-vectors";

    public static IEnumerable<TestCaseData> Cases()
    {
        string? root = SharedAssets.Root;
        string json = root is null ? "" : Path.Combine(root, Folder, "kv_vectors.json");
        if (!File.Exists(json)) { yield return new TestCaseData("(vectors absent)").SetName("LagKvVectors_absent"); yield break; }
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
            yield return new TestCaseData(c.GetProperty("name").GetString()!);
    }

    [TestCaseSource(nameof(Cases))]
    public void KeptSetsAndRowsMatchTheReference(string caseName)
    {
        string folder = SharedAssets.Require("references", "lagkv-vectors");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "kv_vectors.json")));
        JsonElement root = doc.RootElement;
        JsonElement c = root.GetProperty("cases").EnumerateArray().First(e => e.GetProperty("name").GetString() == caseName);

        NpyArray keys = NpyReader.ReadFloat32(Path.Combine(folder, root.GetProperty("input_k").GetString()!));
        NpyArray values = NpyReader.ReadFloat32(Path.Combine(folder, root.GetProperty("input_v").GetString()!));
        Assert.That(values.Shape, Is.EqualTo(keys.Shape));
        int kvHeads = keys.Shape[0], tokens = keys.Shape[1], dim = keys.Shape[2];

        var options = new LagKvOptions
        {
            SinkSize = c.GetProperty("sink_size").GetInt32(),
            LagSize = c.GetProperty("lag_size").GetInt32(),
            Retention = c.GetProperty("ratio").GetDouble(),
        };
        var cache = new LagKvHostCache(options, keys.Data, values.Data, kvHeads, tokens, dim);
        foreach (int count in UpdateSizes(c, tokens)) cache.Update(count);

        Assert.That(cache.Seen, Is.EqualTo(tokens));
        Assert.That(cache.Length, Is.EqualTo(c.GetProperty("n_kept").GetInt32()), "rows kept");
        Assert.That(LagKvSchedule.WindowStart(options, cache.CompressedPartitions), Is.EqualTo(c.GetProperty("compressed_len").GetInt32()), "compressed prefix");
        Assert.That(cache.Length, Is.EqualTo(LagKvSchedule.LengthAfter(options, tokens)), "the length formula");

        JsonElement[] sortedIndices = c.GetProperty("kept_indices_sorted").EnumerateArray().ToArray();
        JsonElement[] cacheOrder = c.GetProperty("kept_indices_cache_order").EnumerateArray().ToArray();
        NpyArray? compressedK = LoadOptional(folder, c, "compressed_k");
        NpyArray? compressedV = LoadOptional(folder, c, "compressed_v");
        for (int h = 0; h < kvHeads; h++)
        {
            int[] expected = sortedIndices[h].EnumerateArray().Select(e => e.GetInt32()).ToArray();
            int[] kept = cache.Slots(h).ToArray();
            // The engine's layout is in ascending original position: sink, kept tokens partition by partition, tail.
            Assert.That(kept, Is.Ordered.Ascending, $"head {h}: slots in ascending original position");
            Assert.That(kept, Is.EqualTo(expected), $"head {h}: kept token indices");

            if (compressedK is null || compressedV is null) continue;
            int[] referenceOrder = cacheOrder[h].EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.That(compressedK.Shape, Is.EqualTo(new[] { kvHeads, kept.Length, dim }));
            // Sort the reference's rows (stored in descending-score order) by original position, then compare with ours.
            int[] rowOrder = Enumerable.Range(0, referenceOrder.Length).OrderBy(i => referenceOrder[i]).ToArray();
            for (int slot = 0; slot < kept.Length; slot++)
                for (int d = 0; d < dim; d++)
                {
                    long ours = ((long)h * tokens + kept[slot]) * dim + d;
                    long theirs = ((long)h * kept.Length + rowOrder[slot]) * dim + d;
                    Assert.That(keys.Data[ours], Is.EqualTo(compressedK.Data[theirs]), $"head {h} slot {slot} key channel {d}");
                    Assert.That(values.Data[ours], Is.EqualTo(compressedV.Data[theirs]), $"head {h} slot {slot} value channel {d}");
                }
        }
    }

    private static IEnumerable<int> UpdateSizes(JsonElement c, int tokens)
    {
        string feed = c.GetProperty("feed").GetString()!;
        if (feed == "stream") return Enumerable.Repeat(1, tokens);
        return c.GetProperty("update_chunks").EnumerateArray()
            .Select(range => range[1].GetInt32() - range[0].GetInt32()).ToArray();
    }

    private static NpyArray? LoadOptional(string folder, JsonElement c, string property) =>
        c.GetProperty(property).ValueKind == JsonValueKind.String
            ? NpyReader.ReadFloat32(Path.Combine(folder, c.GetProperty(property).GetString()!))
            : null;
}
