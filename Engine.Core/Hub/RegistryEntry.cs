using Engine.Core.Config;

namespace Engine.Core.Hub;

/// <summary>
/// One model of <c>models.json</c>: its short name, where it lives on the hub, what it is (architecture,
/// parameter count, download size), the LagKV settings suggested for it, and its full shape, so that a
/// random-weights benchmark can build the model without downloading it.
/// </summary>
public sealed record RegistryEntry(
    string Name,
    string Repo,
    string Revision,
    ModelArchitecture Architecture,
    long Parameters,
    long Bytes,
    LagKvRecommendation LagKv,
    ModelConfig Config);
