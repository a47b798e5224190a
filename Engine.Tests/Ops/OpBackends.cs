using System.Collections.Concurrent;
using Engine.Kernels;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Ops;

/// <summary>
/// One backend instance per name shared by all op fixtures (kernels compile once per backend
/// instance), disposed when the Ops namespace's tests end.
/// </summary>
[SetUpFixture]
public sealed class OpBackends
{
    private static readonly ConcurrentDictionary<string, IBackend> Instances = new();

    public static IBackend Get(string name) => Instances.GetOrAdd(name, TestBackends.Create);

    [OneTimeTearDown]
    public void DisposeAll()
    {
        foreach (var backend in Instances.Values) backend.Dispose();
        Instances.Clear();
    }
}

/// <summary>Base of the per-op fixtures: one fixture instance per available backend (ggml test-backend-ops style).</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Available))]
public abstract class OpTestBase(string backendName)
{
    protected IBackend Backend => OpBackends.Get(backendName);
    protected string BackendName => backendName;

    /// <summary>A deterministic generator per test, so failures reproduce.</summary>
    protected static Random Rng(params object[] parts) => new(string.Join("/", parts).Aggregate(17, (h, c) => unchecked(h * 31 + c)));
}
