using Engine.Models.Generation;
using NUnit.Framework;

namespace Engine.Tests.Scheduling;

/// <summary>Asserts that two completions produced the same tokens and the same top logprobs (ids exact, values within a tolerance).</summary>
public static class SameOutput
{
    public static void Assert(Completion actual, Completion expected, double tolerance = 1e-4, string what = "")
    {
        NUnit.Framework.Assert.That(actual.TokenIds, Is.EqualTo(expected.TokenIds), what);
        NUnit.Framework.Assert.That(actual.Logprobs, Has.Count.EqualTo(expected.Logprobs.Count), what);
        for (int t = 0; t < expected.Logprobs.Count; t++)
            for (int k = 0; k < expected.Logprobs[t].Count; k++)
            {
                NUnit.Framework.Assert.That(actual.Logprobs[t][k].Id, Is.EqualTo(expected.Logprobs[t][k].Id), $"{what}, token {t}, rank {k}");
                NUnit.Framework.Assert.That(actual.Logprobs[t][k].Logprob, Is.EqualTo(expected.Logprobs[t][k].Logprob).Within(tolerance), $"{what}, token {t}, rank {k}");
            }
    }
}
