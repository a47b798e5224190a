using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Compiles an explicitly grouped kernel on first use and caches its launcher per generic
/// instantiation (ILGPU has no cross-process cache; each kernel compiles once per process). Every launch
/// goes through here and is counted in <see cref="Launches"/>.
/// </summary>
public sealed partial class IlgpuBackend
{
    internal Action<KernelConfig, T1, T2, T3> Kernel<T1, T2, T3>(Action<T1, T2, T3> kernel)
        where T1 : struct where T2 : struct where T3 : struct =>
        (Action<KernelConfig, T1, T2, T3>)_kernels.GetOrAdd(kernel.Method, _ =>
        {
            var launch = Accelerator.LoadStreamKernel(kernel);
            return new Action<KernelConfig, T1, T2, T3>((config, a1, a2, a3) => { Launches.AddLaunch(); launch(config, a1, a2, a3); });
        });

    internal Action<KernelConfig, T1, T2, T3, T4> Kernel<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct =>
        (Action<KernelConfig, T1, T2, T3, T4>)_kernels.GetOrAdd(kernel.Method, _ =>
        {
            var launch = Accelerator.LoadStreamKernel(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4>((config, a1, a2, a3, a4) => { Launches.AddLaunch(); launch(config, a1, a2, a3, a4); });
        });

    internal Action<KernelConfig, T1, T2, T3, T4, T5> Kernel<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct =>
        (Action<KernelConfig, T1, T2, T3, T4, T5>)_kernels.GetOrAdd(kernel.Method, _ =>
        {
            var launch = Accelerator.LoadStreamKernel(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5>((config, a1, a2, a3, a4, a5) => { Launches.AddLaunch(); launch(config, a1, a2, a3, a4, a5); });
        });

    internal Action<KernelConfig, T1, T2, T3, T4, T5, T6> Kernel<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct =>
        (Action<KernelConfig, T1, T2, T3, T4, T5, T6>)_kernels.GetOrAdd(kernel.Method, _ =>
        {
            var launch = Accelerator.LoadStreamKernel(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5, T6>((config, a1, a2, a3, a4, a5, a6) => { Launches.AddLaunch(); launch(config, a1, a2, a3, a4, a5, a6); });
        });

    internal Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7> Kernel<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct =>
        (Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7>)_kernels.GetOrAdd(kernel.Method, _ =>
        {
            var launch = Accelerator.LoadStreamKernel(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7>((config, a1, a2, a3, a4, a5, a6, a7) => { Launches.AddLaunch(); launch(config, a1, a2, a3, a4, a5, a6, a7); });
        });

    internal Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8> Kernel<T1, T2, T3, T4, T5, T6, T7, T8>(Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct =>
        (Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>)_kernels.GetOrAdd(kernel.Method, _ =>
        {
            var launch = Accelerator.LoadStreamKernel(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>((config, a1, a2, a3, a4, a5, a6, a7, a8) => { Launches.AddLaunch(); launch(config, a1, a2, a3, a4, a5, a6, a7, a8); });
        });

    internal Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> Kernel<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct =>
        (Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>)_kernels.GetOrAdd(kernel.Method, _ =>
        {
            var launch = Accelerator.LoadStreamKernel(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>((config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) => { Launches.AddLaunch(); launch(config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10); });
        });

    internal Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> Kernel<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct =>
        (Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>)_kernels.GetOrAdd(kernel.Method, _ =>
        {
            var launch = Accelerator.LoadStreamKernel(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>((config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) => { Launches.AddLaunch(); launch(config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11); });
        });
}
