using System.Text.Json.Nodes;

namespace Engine.Core.Text.Templates;

/// <summary>A plain chat message (role and text content); converts to the JSON object templates read.</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public JsonObject ToJson() => new() { ["role"] = Role, ["content"] = Content };

    public static implicit operator JsonObject(ChatMessage message) => message.ToJson();
}
