using System.Collections.Concurrent;
using System.Text;

namespace Engine.Core.Text;

/// <summary>
/// Byte-pair encoding over a vocabulary and a ranked merge list (tokenizer.json's <c>model</c> of type
/// BPE). A word starts as one symbol per character; the adjacent pair with the lowest merge rank is
/// merged first, the leftmost one among equal ranks (which is how sentencepiece breaks ties on runs of
/// a repeated character). Characters missing from the vocabulary become their UTF-8 bytes'
/// <c>&lt;0xNN&gt;</c> tokens (byte fallback) or the unknown token.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedWordLength = 256;
    private const int MaxCacheEntries = 200_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly Dictionary<long, (int Rank, int Merged)> _merges;
    private readonly int[]? _byteFallbackIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new();

    public BpeModel(Dictionary<string, int> vocab, Dictionary<long, (int Rank, int Merged)> merges,
        int? unknownId, bool fuseUnknown, bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        UnknownId = unknownId;
        FuseUnknown = fuseUnknown;
        IgnoreMerges = ignoreMerges;
        if (byteFallback)
        {
            _byteFallbackIds = new int[256];
            for (int b = 0; b < 256; b++)
                _byteFallbackIds[b] = vocab.TryGetValue(ByteFallbackToken(b), out int id) ? id : -1;
        }
    }

    public int? UnknownId { get; }
    public bool FuseUnknown { get; }
    public bool IgnoreMerges { get; }
    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>The key of the merge table for the pair (left, right).</summary>
    public static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>The sentencepiece name of a byte-fallback token, e.g. &lt;0xE2&gt;.</summary>
    public static string ByteFallbackToken(int value) => $"<0x{value:X2}>";

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void EncodeWord(string word, List<int> output)
    {
        if (word.Length == 0) return;
        if (word.Length <= MaxCachedWordLength && _cache.TryGetValue(word, out var cached)) { output.AddRange(cached); return; }
        int[] ids = Merge(word);
        if (word.Length <= MaxCachedWordLength)
        {
            if (_cache.Count >= MaxCacheEntries) _cache.Clear();
            _cache[word] = ids;
        }
        output.AddRange(ids);
    }

    private int[] Merge(string word)
    {
        if (IgnoreMerges && _vocab.TryGetValue(word, out int whole)) return [whole];
        var symbols = InitialSymbols(word);
        int n = symbols.Count;
        if (n < 2) return symbols.ToArray();

        // Doubly linked list over the symbols; a merge keeps the left slot and unlinks the right one.
        var ids = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1; prev[i] = i - 1; }
        next[n - 1] = -1;

        // Queue entries are pairs (left slot, right slot, their ids when queued); ties on rank go to the left.
        var queue = new PriorityQueue<(int Left, int Right, int LeftId, int RightId, int Merged), long>();
        void Enqueue(int left)
        {
            if (left < 0 || next[left] < 0) return;
            int right = next[left];
            if (_merges.TryGetValue(PairKey(ids[left], ids[right]), out var merge))
                queue.Enqueue((left, right, ids[left], ids[right], merge.Merged), ((long)merge.Rank << 32) | (uint)left);
        }
        for (int i = 0; i + 1 < n; i++) Enqueue(i);

        while (queue.TryDequeue(out var pair, out _))
        {
            bool stale = next[pair.Left] != pair.Right || ids[pair.Left] != pair.LeftId || ids[pair.Right] != pair.RightId;
            if (stale) continue;
            ids[pair.Left] = pair.Merged;
            int after = next[pair.Right];
            next[pair.Left] = after;
            if (after >= 0) prev[after] = pair.Left;
            next[pair.Right] = -2; // removed
            ids[pair.Right] = -1;
            if (prev[pair.Left] >= 0) Enqueue(prev[pair.Left]);
            Enqueue(pair.Left);
        }

        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i]) result.Add(ids[i]);
        return result.ToArray();
    }

    private List<int> InitialSymbols(string word)
    {
        var symbols = new List<int>(word.Length);
        bool lastWasUnknown = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var character = word.AsSpan(i, width);
            i += width;
            if (_vocabBySpan.TryGetValue(character, out int id)) { symbols.Add(id); lastWasUnknown = false; continue; }
            if (_byteFallbackIds is not null)
            {
                int byteCount = Encoding.UTF8.GetBytes(character, utf8);
                bool allKnown = true;
                for (int b = 0; b < byteCount; b++) allKnown &= _byteFallbackIds[utf8[b]] >= 0;
                if (allKnown)
                {
                    for (int b = 0; b < byteCount; b++) symbols.Add(_byteFallbackIds[utf8[b]]);
                    lastWasUnknown = false;
                    continue;
                }
            }
            if (UnknownId is int unknown && !(FuseUnknown && lastWasUnknown)) symbols.Add(unknown);
            lastWasUnknown = UnknownId is not null;
        }
        return symbols;
    }
}
