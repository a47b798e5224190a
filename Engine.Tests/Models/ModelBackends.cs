using Engine.Kernels;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

/// <summary>Backends the model tests run on: the scalar <see cref="ReferenceBackend"/> and every real backend present.</summary>
public static class ModelBackends
{
    public static IEnumerable<string> All() => new[] { "reference" }.Concat(TestBackends.Available().Where(Fits));

    /// <summary>Real backends only (the SIMD backend and any device), for checks on real models.</summary>
    public static IEnumerable<string> Real() => TestBackends.Available().Where(Fits);

    public static IBackend Create(string name) => TestBackends.Create(name);

    // ILGPU's CPU accelerator simulates every thread: too slow for whole models beyond the tiniest shapes.
    private static bool Fits(string name) => name != "ilgpu-cpu";
}
