using System.Text.Json;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Engine.Tests.Support;

/// <summary>Checks the `--json` convention: every key of every object, at any depth, is snake_case.</summary>
public static partial class JsonKeys
{
    public static void AssertSnakeCase(JsonElement element, string path = "$")
    {
        if (element.ValueKind == JsonValueKind.Object)
            foreach (var property in element.EnumerateObject())
            {
                Assert.That(SnakeCase().IsMatch(property.Name), Is.True, $"key '{property.Name}' at {path} is not snake_case");
                AssertSnakeCase(property.Value, $"{path}.{property.Name}");
            }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var item in element.EnumerateArray()) AssertSnakeCase(item, $"{path}[{i++}]");
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
    private static partial Regex SnakeCase();
}
