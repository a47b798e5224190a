namespace Engine.Core.Text;

/// <summary>
/// Builds BPE's merge table from an ordered list of token pairs: the pair's position is its rank,
/// and the pair maps to the id of the token it forms. A pair whose parts or result are missing from
/// the vocabulary is an error; a repeated pair keeps its first (best) rank.
/// </summary>
internal sealed class MergeTable
{
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocab;
    private readonly string _source;
    private char[] _joined = new char[64];
    private int _rank;

    public MergeTable(Dictionary<string, int> vocab, int expectedCount, string source)
    {
        _vocab = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _source = source;
        Merges = new Dictionary<long, (int Rank, int Merged)>(expectedCount);
    }

    /// <summary>(left id, right id) packed by <see cref="BpeModel.PairKey"/> -> (rank, merged id).</summary>
    public Dictionary<long, (int Rank, int Merged)> Merges { get; }

    /// <summary>Appends the next merge, ranked after all earlier ones.</summary>
    public void Add(ReadOnlySpan<char> left, ReadOnlySpan<char> right)
    {
        int length = left.Length + right.Length;
        if (_joined.Length < length) _joined = new char[length * 2];
        left.CopyTo(_joined);
        right.CopyTo(_joined.AsSpan(left.Length));
        if (!_vocab.TryGetValue(left, out int leftId) || !_vocab.TryGetValue(right, out int rightId)
            || !_vocab.TryGetValue(_joined.AsSpan(0, length), out int mergedId))
            throw new EngineException($"{_source}: merge '{left} {right}' uses a token missing from the vocabulary");
        Merges.TryAdd(BpeModel.PairKey(leftId, rightId), (_rank, mergedId));
        _rank++;
    }
}
