namespace Engine.Core.Text.Templates;

/// <summary>Evaluated call arguments: positional values then keyword values, as Python passes them.</summary>
internal sealed class CallArguments
{
    public static readonly CallArguments Empty = new([], new Dictionary<string, object?>());

    public CallArguments(List<object?> positional, Dictionary<string, object?> keywords)
    {
        Positional = positional;
        Keywords = keywords;
    }

    public List<object?> Positional { get; }
    public Dictionary<string, object?> Keywords { get; }

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index < Positional.Count) return Positional[index];
        return Keywords.TryGetValue(name, out var v) ? v : fallback;
    }

    public bool Has(int index, string name) => index < Positional.Count || Keywords.ContainsKey(name);

    /// <summary>Fails the way Python does when too many positional arguments are given.</summary>
    public void ExpectAtMost(int count, string function)
    {
        if (Positional.Count > count)
            throw new TemplateError($"{function}() takes at most {count} arguments ({Positional.Count} given)");
    }
}
