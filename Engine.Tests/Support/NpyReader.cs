using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Tests.Support;

/// <summary>Reads NumPy .npy files (version 1/2/3, little-endian f4, f8, i4 or i8, C order) into doubles.</summary>
public static partial class NpyReader
{
    public sealed record Array(long[] Shape, double[] Data)
    {
        public ReadOnlySpan<double> Row(int i) => Data.AsSpan(i * (int)(Data.Length / Shape[0]), (int)(Data.Length / Shape[0]));
    }

    public static Array Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new InvalidDataException($"{path} is not a .npy file");
        int major = bytes[6];
        int headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) : (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        int headerStart = major == 1 ? 10 : 12;
        string header = Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        string descr = DescrPattern().Match(header).Groups[1].Value;
        if (header.Contains("'fortran_order': True")) throw new InvalidDataException($"{path}: Fortran order is not supported");
        long[] shape = ShapePattern().Match(header).Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var data = new double[count];
        var body = bytes.AsSpan(headerStart + headerLength);
        for (int i = 0; i < count; i++)
        {
            data[i] = descr switch
            {
                "<f4" => BinaryPrimitives.ReadSingleLittleEndian(body[(i * 4)..]),
                "<f8" => BinaryPrimitives.ReadDoubleLittleEndian(body[(i * 8)..]),
                "<i4" => BinaryPrimitives.ReadInt32LittleEndian(body[(i * 4)..]),
                "<i8" => BinaryPrimitives.ReadInt64LittleEndian(body[(i * 8)..]),
                _ => throw new InvalidDataException($"{path}: dtype {descr} is not supported"),
            };
        }
        return new Array(shape, data);
    }

    [GeneratedRegex(@"'descr':\s*'([^']+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
