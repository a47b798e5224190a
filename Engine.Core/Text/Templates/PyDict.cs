namespace Engine.Core.Text.Templates;

/// <summary>A Python dict: insertion-ordered, with Python's key equality (1 == 1.0 == True).</summary>
internal sealed class PyDict : OrderedDictionary<object, object?>
{
    public PyDict() : base(PyKeyComparer.Instance) { }

    /// <summary>Python's key equality: numbers by value (bool counts as int), everything else by <see cref="object.Equals(object)"/>.</summary>
    private sealed class PyKeyComparer : IEqualityComparer<object>
    {
        public static readonly PyKeyComparer Instance = new();

        public new bool Equals(object? x, object? y) => object.Equals(Normalize(x), Normalize(y));

        public int GetHashCode(object obj) => Normalize(obj)?.GetHashCode() ?? 0;

        private static object? Normalize(object? key) => key switch
        {
            bool b => b ? 1L : 0L,
            double d when Math.Floor(d) == d && Math.Abs(d) < 9e18 => (long)d,
            _ => key,
        };
    }
}
