namespace Engine.Core.Text.Templates;

/// <summary>A Python tuple: a list that is not equal to a list and prints with parentheses.</summary>
internal sealed class PyTuple : List<object?>
{
    public PyTuple(IEnumerable<object?> items) : base(items) { }
}
