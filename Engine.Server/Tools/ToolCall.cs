using System.Text.Json.Nodes;

namespace Engine.Server.Tools;

/// <summary>A function call the model made: an id for the reply, the function's name, its arguments as a JSON string (OpenAI's shape).</summary>
public sealed record ToolCall(string Id, string Name, string Arguments)
{
    public JsonObject ToJson(int? index = null)
    {
        var o = new JsonObject();
        if (index is { } i) o["index"] = i;
        o["id"] = Id;
        o["type"] = "function";
        o["function"] = new JsonObject { ["name"] = Name, ["arguments"] = Arguments };
        return o;
    }

    public static string NewId() => "call_" + Guid.NewGuid().ToString("N")[..24];
}
