using Engine.Core;

namespace Engine.Models.Generation;

/// <summary>
/// How a prompt is cut into prefill chunks: a fixed size, the whole prompt at once, or any rule that
/// maps (chunk index, tokens already prefilled) to the next chunk's size (LagKV's "auto": S + 2L, then L).
/// </summary>
public sealed class PrefillSchedule
{
    public const int DefaultChunk = 512;

    private readonly Func<int, int, int> _nextSize;

    private PrefillSchedule(string description, Func<int, int, int> nextSize) { Description = description; _nextSize = nextSize; }

    public string Description { get; }

    public static PrefillSchedule Default { get; } = Fixed(DefaultChunk);

    /// <summary>The whole prompt in one forward step.</summary>
    public static PrefillSchedule WholePrompt { get; } = new("whole prompt", (_, _) => int.MaxValue);

    /// <summary>Chunks of <paramref name="size"/> tokens; 0 means the whole prompt.</summary>
    public static PrefillSchedule Fixed(int size)
    {
        if (size < 0) throw new EngineException($"prefill chunk must be >= 0, got {size}");
        return size == 0 ? WholePrompt : new PrefillSchedule($"{size}", (_, _) => size);
    }

    /// <summary>A custom rule: <paramref name="nextSize"/>(chunkIndex, tokensDone) gives the next chunk's size (>= 1).</summary>
    public static PrefillSchedule Custom(string description, Func<int, int, int> nextSize) => new(description, nextSize);

    /// <summary>The chunk lengths for a prompt of <paramref name="promptLength"/> tokens.</summary>
    public IEnumerable<int> Chunks(int promptLength)
    {
        int done = 0;
        for (int index = 0; done < promptLength; index++)
        {
            int size = _nextSize(index, done);
            if (size < 1) throw new EngineException($"prefill schedule '{Description}' gave chunk size {size}");
            size = Math.Min(size, promptLength - done);
            yield return size;
            done += size;
        }
    }
}
