namespace Engine.Kernels.Ilgpu;

/// <summary>
/// A fast kernel (written for speed, possibly blind: no GPU was at hand when it was written) and its portable
/// twin (the plain kernel it must agree with). <see cref="Compare"/> runs both on a small random case on a
/// backend and returns the largest difference relative to the outputs' scale; the backend runs it the first
/// time the fast kernel is wanted on that device (<see cref="IlgpuBackend.UseFast"/>) and falls back to the
/// twin on a mismatch or a failure. New fast kernels call <see cref="Register"/> from a static field, so
/// `engine doctor` and the tests find every one.
/// </summary>
internal sealed class FastKernel(string name, string portableTwin, double tolerance, Func<IlgpuBackend, Random, double> compare)
{
    private static readonly List<FastKernel> Registered = [];

    public string Name { get; } = name;
    public string PortableTwin { get; } = portableTwin;
    /// <summary>Largest relative difference that still counts as agreement (the two sum in different orders).</summary>
    public double Tolerance { get; } = tolerance;
    public Func<IlgpuBackend, Random, double> Compare { get; } = compare;

    /// <summary>Every fast kernel of the backend.</summary>
    public static IReadOnlyList<FastKernel> All
    {
        get { lock (Registered) return Registered.ToArray(); }
    }

    public static FastKernel Register(string name, string portableTwin, double tolerance, Func<IlgpuBackend, Random, double> compare)
    {
        var kernel = new FastKernel(name, portableTwin, tolerance, compare);
        lock (Registered) Registered.Add(kernel);
        return kernel;
    }
}
