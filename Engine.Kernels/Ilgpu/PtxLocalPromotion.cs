using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Moves ILGPU's inline-PTX operands out of local memory. ILGPU 1.5.3 passes every output of `CudaAsm.Emit` (and
/// every operand of `CudaAsm.EmitRef`) through a small `.local` depot (`mov.b64 %rdN, __local_depotK;` then
/// `st.local` / `ld.local` at [%rdN]), and ptxas does not promote them: the tensor-core GEMM had an 832-byte stack
/// frame and hundreds of LDL/STL around its mma.sync. This pass rewrites each depot that is only ever loaded and
/// stored whole, through its address register and at offset 0, into a register of the same size (`mov.bS`
/// copies; bit-size moves accept any register type of that size). Depots used any other way stay as they are.
/// </summary>
internal static partial class PtxLocalPromotion
{
    [GeneratedRegex(@"^\s*\.local\s+\.align\s+\d+\s+\.b8\s+__local_depot(\d+)\[(\d+)\];\s*$")]
    private static partial Regex DepotDeclaration();

    [GeneratedRegex(@"^\s*mov\.b64\s+(%rd\d+),\s*__local_depot(\d+);\s*$")]
    private static partial Regex DepotAddress();

    [GeneratedRegex(@"^(\s*)ld\.local\.([a-z]+)(\d+)\s+([^,\s]+),\s*\[(%rd\d+)\];\s*$")]
    private static partial Regex LoadLine();

    [GeneratedRegex(@"^(\s*)st\.local\.([a-z]+)(\d+)\s+\[(%rd\d+)\],\s*([^;\s]+);\s*$")]
    private static partial Regex StoreLine();

    [GeneratedRegex(@"%rd\d+\b")]
    private static partial Regex AddressRegister();

    /// <summary>The PTX with every promotable depot turned into a register; how many were promoted.</summary>
    public static (string Ptx, int Promoted) Promote(string ptx)
    {
        string[] lines = ptx.Split('\n');
        var depotBytes = new Dictionary<string, int>();
        var addressOf = new Dictionary<string, string>(); // address register -> depot
        foreach (string line in lines)
        {
            var d = DepotDeclaration().Match(line);
            if (d.Success) depotBytes[d.Groups[1].Value] = int.Parse(d.Groups[2].Value);
            var a = DepotAddress().Match(line);
            if (a.Success) addressOf[a.Groups[1].Value] = a.Groups[2].Value;
        }

        // A depot qualifies when every use of its address registers is a whole-size load or store at offset 0.
        var rejected = new HashSet<string>();
        foreach (string depot in addressOf.Values)
            if (!depotBytes.ContainsKey(depot)) rejected.Add(depot);
        foreach (string line in lines)
        {
            if (DepotAddress().IsMatch(line)) continue;
            var load = LoadLine().Match(line);
            var store = StoreLine().Match(line);
            foreach (Match use in AddressRegister().Matches(line))
            {
                if (!addressOf.TryGetValue(use.Value, out string? depot)) continue;
                int bits = load.Success && load.Groups[5].Value == use.Value ? int.Parse(load.Groups[3].Value)
                    : store.Success && store.Groups[4].Value == use.Value ? int.Parse(store.Groups[3].Value)
                    : -1;
                if (bits != depotBytes.GetValueOrDefault(depot) * 8 || (bits != 32 && bits != 64)) rejected.Add(depot);
            }
        }

        var promoted = depotBytes.Keys.Where(d => !rejected.Contains(d) && addressOf.ContainsValue(d)).ToHashSet();
        if (promoted.Count == 0) return (ptx, 0);
        var output = new StringBuilder(ptx.Length);
        foreach (string line in lines)
        {
            string rewritten = line;
            var d = DepotDeclaration().Match(line);
            var a = DepotAddress().Match(line);
            var load = LoadLine().Match(line);
            var store = StoreLine().Match(line);
            if (d.Success && promoted.Contains(d.Groups[1].Value))
                rewritten = $"\t.reg .b{depotBytes[d.Groups[1].Value] * 8} %dp{d.Groups[1].Value};";
            else if (a.Success && promoted.Contains(a.Groups[2].Value))
                continue; // the address is no longer needed
            else if (load.Success && PromotedDepot(load.Groups[5].Value) is string from)
                rewritten = $"{load.Groups[1].Value}mov.b{load.Groups[3].Value} {load.Groups[4].Value}, %dp{from};";
            else if (store.Success && PromotedDepot(store.Groups[4].Value) is string to)
                rewritten = $"{store.Groups[1].Value}mov.b{store.Groups[3].Value} %dp{to}, {store.Groups[5].Value};";
            output.Append(rewritten).Append('\n');
        }
        output.Length--; // the split added no trailing newline of its own
        return (output.ToString(), promoted.Count);

        string? PromotedDepot(string register) => addressOf.TryGetValue(register, out string? found) && promoted.Contains(found) ? found : null;
    }
}
