namespace Engine.Server.Api;

/// <summary>A request the server answers with an OpenAI-shaped error: an HTTP status, a type, the field at fault.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null, string? type = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public string Type { get; } = type ?? DefaultType(status);

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(400, message, param, code);

    private static string DefaultType(int status) => status switch
    {
        400 => "invalid_request_error",
        401 => "authentication_error",
        404 => "not_found_error",
        503 => "unavailable_error",
        _ => "server_error",
    };
}
