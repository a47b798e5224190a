using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Tests.LagKv;

/// <summary>A little-endian float32 .npy array (NumPy format versions 1 to 3, C order).</summary>
public sealed record NpyArray(int[] Shape, float[] Data);

/// <summary>Reads the subset of NumPy's .npy format the shared reference vectors use: '&lt;f4', C order.</summary>
public static partial class NpyReader
{
    public static NpyArray ReadFloat32(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new InvalidDataException($"{path} is not a .npy file");
        int major = bytes[6];
        int headerLength, headerStart;
        if (major == 1) { headerLength = BitConverter.ToUInt16(bytes, 8); headerStart = 10; }
        else { headerLength = (int)BitConverter.ToUInt32(bytes, 8); headerStart = 12; }
        string header = Encoding.Latin1.GetString(bytes, headerStart, headerLength);
        if (!header.Contains("'descr': '<f4'")) throw new InvalidDataException($"{path}: only little-endian float32 is supported ({header.Trim()})");
        if (header.Contains("'fortran_order': True")) throw new InvalidDataException($"{path}: Fortran order is not supported");
        Match shapeMatch = ShapePattern().Match(header);
        if (!shapeMatch.Success) throw new InvalidDataException($"{path}: no shape in header");
        int[] shape = shapeMatch.Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(int.Parse).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        int dataStart = headerStart + headerLength;
        if (bytes.Length - dataStart != count * sizeof(float))
            throw new InvalidDataException($"{path}: {bytes.Length - dataStart} data bytes for shape [{string.Join(", ", shape)}]");
        var data = new float[count];
        Buffer.BlockCopy(bytes, dataStart, data, 0, (int)(count * sizeof(float)));
        return new NpyArray(shape, data);
    }

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
