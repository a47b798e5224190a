namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Marks a static method of <see cref="IlgpuBackend"/> as an explicitly grouped kernel entry point, once
/// per generic instantiation the backend launches (no type arguments for a non-generic kernel).
/// <see cref="IlgpuBackend.KernelEntryPoints"/> collects them so tests can compile every kernel (e.g. to PTX).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class KernelInstanceAttribute(params Type[] typeArguments) : Attribute
{
    public Type[] TypeArguments { get; } = typeArguments;
}
