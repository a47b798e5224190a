using System.Runtime.InteropServices;
using System.Text;

namespace Engine.Core.Text;

/// <summary>
/// Unicode normalization (NFC, NFKC, NFD, NFKD) that also works when the process runs in invariant
/// globalization mode, where <see cref="string.Normalize(NormalizationForm)"/> returns its input
/// unchanged: then ICU's <c>unorm2</c> API is called directly. When neither is available the text is
/// returned as is (nearly all text is already NFC).
/// </summary>
internal static unsafe class UnicodeNormalization
{
    private static readonly bool BuiltInWorks = "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9";
    private static readonly IcuFunctions? Icu = BuiltInWorks ? null : IcuFunctions.TryLoad();

    /// <summary>True when normalization really happens (built in or through ICU).</summary>
    public static bool IsAvailable => BuiltInWorks || Icu is not null;

    public static string Normalize(string text, NormalizationForm form)
    {
        if (Ascii.IsValid(text)) return text; // ASCII is invariant under all four forms
        if (BuiltInWorks) return text.Normalize(form);
        return Icu is null ? text : Icu.Normalize(text, form);
    }

    /// <summary>The entry points of the ICU common library, found by probing versioned names as .NET does.</summary>
    private sealed class IcuFunctions
    {
        private readonly delegate* unmanaged<int*, IntPtr>[] _instanceGetters;
        private readonly delegate* unmanaged<IntPtr, char*, int, char*, int, int*, int> _normalize;

        private IcuFunctions(delegate* unmanaged<int*, IntPtr>[] instanceGetters,
            delegate* unmanaged<IntPtr, char*, int, char*, int, int*, int> normalize)
        {
            _instanceGetters = instanceGetters;
            _normalize = normalize;
        }

        public static IcuFunctions? TryLoad()
        {
            foreach (var (library, suffix) in Candidates())
            {
                if (!NativeLibrary.TryLoad(library, out IntPtr handle)) continue;
                string[] getterNames = ["unorm2_getNFCInstance", "unorm2_getNFKCInstance", "unorm2_getNFDInstance", "unorm2_getNFKDInstance"];
                var getters = new delegate* unmanaged<int*, IntPtr>[getterNames.Length];
                bool found = true;
                for (int i = 0; i < getterNames.Length && found; i++)
                {
                    found = NativeLibrary.TryGetExport(handle, getterNames[i] + suffix, out IntPtr address);
                    getters[i] = (delegate* unmanaged<int*, IntPtr>)address;
                }
                if (found && NativeLibrary.TryGetExport(handle, "unorm2_normalize" + suffix, out IntPtr normalize))
                    return new IcuFunctions(getters, (delegate* unmanaged<IntPtr, char*, int, char*, int, int*, int>)normalize);
                NativeLibrary.Free(handle);
            }
            return null;
        }

        private static IEnumerable<(string Library, string Suffix)> Candidates()
        {
            if (OperatingSystem.IsWindows())
            {
                yield return ("icu.dll", "");
                yield return ("icuuc.dll", "");
                yield break;
            }
            if (OperatingSystem.IsMacOS())
            {
                yield return ("libicucore.dylib", "");
                yield break;
            }
            for (int version = 90; version >= 50; version--)
                yield return ($"libicuuc.so.{version}", $"_{version}");
        }

        public string Normalize(string text, NormalizationForm form)
        {
            int formIndex = form switch
            {
                NormalizationForm.FormC => 0,
                NormalizationForm.FormKC => 1,
                NormalizationForm.FormD => 2,
                _ => 3,
            };
            int error = 0;
            IntPtr normalizer = _instanceGetters[formIndex](&error);
            if (error > 0 || normalizer == IntPtr.Zero) return text;
            int capacity = text.Length * 2 + 16;
            while (true)
            {
                var output = new char[capacity];
                error = 0;
                int length;
                fixed (char* source = text)
                fixed (char* destination = output)
                    length = _normalize(normalizer, source, text.Length, destination, capacity, &error);
                const int bufferOverflow = 15;
                if (error == bufferOverflow && length > capacity) { capacity = length; continue; }
                return error > 0 ? text : new string(output, 0, length);
            }
        }
    }
}
