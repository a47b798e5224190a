namespace Engine.Models.Evaluation;

/// <summary>
/// A built-in haystack for the passkey test when no essay folder is given: plain, unremarkable
/// sentences assembled from small word lists by a seeded generator, so that nothing in it looks like
/// a pass key (no digits) and the same seed always gives the same text.
/// </summary>
public static class FillerText
{
    private static readonly string[] Subjects =
    [
        "The river", "A small village", "The old bridge", "Every morning", "The market", "A quiet road", "The forest",
        "The library", "A long train", "The garden", "The harbor", "A tall tree", "The school", "The mountain path",
        "A light rain", "The bakery", "The museum", "A field of wheat", "The town square", "An empty bench",
    ];

    private static readonly string[] Predicates =
    [
        "stays calm through the afternoon", "looks different in the autumn light", "is visited by many travelers",
        "changes slowly over the years", "is quiet before sunrise", "fills with people at noon", "seems larger than it is",
        "was built a long time ago", "is easy to miss from the road", "brings back old memories", "is painted a pale color",
        "hears the sound of distant bells", "waits for the evening crowd", "is shaded by tall buildings",
        "smells of fresh bread and coffee", "is mentioned in local stories", "rests under a wide grey sky",
    ];

    private static readonly string[] Tails =
    [
        "and nobody seems to mind", "while the wind moves through the streets", "as the seasons turn", "in the usual way",
        "without much notice", "for reasons no one remembers", "and life goes on as before", "when the day grows warm",
        "just like the year before", "under a sky full of clouds",
    ];

    /// <summary>At least <paramref name="count"/> words of filler sentences (whole sentences; callers truncate).</summary>
    public static IReadOnlyList<string> Words(int count, int seed = 1)
    {
        var random = new Random(seed);
        var words = new List<string>(count + 24);
        while (words.Count < count)
        {
            string sentence = $"{Subjects[random.Next(Subjects.Length)]} {Predicates[random.Next(Predicates.Length)]}";
            if (random.Next(3) == 0) sentence += $" {Tails[random.Next(Tails.Length)]}";
            words.AddRange((sentence + ".").Split(' '));
        }
        return words;
    }
}
