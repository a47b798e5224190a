using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Engine.Cli.Options;
using Engine.Core;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine selftest --device D` (hidden): the op-conformance cases on a device against the SIMD CPU backend,
/// plus the fast kernels' self-checks, for GPU machines without .NET (scripts/gpu-check.sh runs it from the bundle).
/// </summary>
internal static class SelfTestCommand
{
    public static Command Create()
    {
        var device = CommonOptions.Device();
        var kernels = KernelSetOption.Create();
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("selftest", "Check every op on a device against the SIMD CPU backend (for GPU machines without .NET)") { Hidden = true };
        command.Options.Add(device);
        command.Options.Add(kernels);
        command.Options.Add(json);
        command.SetAction(new Func<ParseResult, int>(pr =>
        {
            var output = pr.InvocationConfiguration.Output;
            using var tested = BackendFactory.Create(pr.GetValue(device)!, 0, KernelSetOption.Read(pr, kernels));
            using var reference = new SimdBackend(0, KernelSet.Portable); // exact products over quantized weights
            var ilgpu = tested as IlgpuBackend;
            if (ilgpu is not null) ilgpu.Warn = _ => { }; // the checks are reported below
            var fastChecks = ilgpu?.CheckAllFastKernels() ?? [];
            var cases = new BackendConformance(tested, reference).RunAll();
            int failed = cases.Count(c => !c.Passed) + fastChecks.Count(c => !c.Passed);
            if (pr.GetValue(json))
            {
                var document = new Dictionary<string, object?>
                {
                    ["device"] = tested.Name,
                    ["reference"] = reference.Name,
                    ["kernels"] = ilgpu?.KernelsInUse,
                    ["passed"] = failed == 0,
                    ["cases"] = cases.Select(c => new Dictionary<string, object?>
                    {
                        ["name"] = c.Name, ["passed"] = c.Passed, ["error"] = double.IsFinite(c.Error) ? c.Error : null,
                        ["tolerance"] = c.Tolerance, ["failure"] = c.Failure,
                    }).ToArray(),
                    ["fast_kernels"] = fastChecks.Select(c => new Dictionary<string, object>
                    {
                        ["kernel"] = c.Kernel, ["portable"] = c.PortableTwin, ["passed"] = c.Passed, ["detail"] = c.Detail,
                    }).ToArray(),
                };
                output.WriteLine(JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                output.WriteLine($"selftest: {tested.Name} against {reference.Name}");
                foreach (var c in cases)
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {(c.Passed ? "ok  " : "FAIL")} {c.Name}: {(c.Failure ?? $"largest relative difference {c.Error:G3} (tolerance {c.Tolerance:G3})")}"));
                foreach (var c in fastChecks)
                    output.WriteLine($"  {(c.Passed ? "ok  " : "FAIL")} fast kernel {c.Kernel} vs {c.PortableTwin}: {c.Detail}");
                output.WriteLine(failed == 0 ? $"selftest passed: {cases.Count + fastChecks.Count} checks" : $"selftest FAILED: {failed} of {cases.Count + fastChecks.Count} checks");
            }
            return failed == 0 ? 0 : 1;
        }));
        return command;
    }
}
