using System.Text.Json.Nodes;

namespace Engine.Core.Text.Templates;

/// <summary>
/// What a chat template sees besides the messages: the tool schemas, extra variables (as Hugging Face's
/// apply_chat_template(**kwargs), e.g. date_string or tools_in_user_message) and the clock that
/// strftime_now reads (null: now).
/// </summary>
public sealed record ChatRenderOptions(
    JsonArray? Tools = null,
    IReadOnlyDictionary<string, JsonNode?>? Variables = null,
    DateTime? Now = null);
