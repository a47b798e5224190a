using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Core.Hub;

/// <summary>
/// The integrity check a hub ETag implies: a 64-hex ETag is the sha256 of an LFS file, a 40-hex one the
/// git blob sha1 (<c>sha1("blob &lt;size&gt;\0" + bytes)</c>) of a small file; other ETags carry no checksum.
/// </summary>
public static partial class EtagChecksum
{
    public enum Kind { None, Sha256, GitSha1 }

    public static Kind KindOf(string etag) =>
        Sha256Hex().IsMatch(etag) ? Kind.Sha256 : Sha1Hex().IsMatch(etag) ? Kind.GitSha1 : Kind.None;

    /// <summary>The ETag as a file name: quotes and a weak-validator prefix removed, lower-case; null when unusable as a blob name.</summary>
    public static string? Normalize(string? raw)
    {
        if (raw is null) return null;
        string etag = raw.Trim();
        if (etag.StartsWith("W/", StringComparison.Ordinal)) etag = etag[2..];
        etag = etag.Trim('"');
        if (Sha256Hex().IsMatch(etag.ToLowerInvariant()) || Sha1Hex().IsMatch(etag.ToLowerInvariant())) etag = etag.ToLowerInvariant();
        return SafeName().IsMatch(etag) ? etag : null;
    }

    /// <summary>Git's object id of a file's bytes (what the hub uses as the ETag of non-LFS files).</summary>
    public static string GitBlobSha1(string path)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        using var stream = File.OpenRead(path);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {stream.Length}\0"));
        var buffer = new byte[81920];
        for (int n; (n = stream.Read(buffer)) > 0;) sha1.AppendData(buffer, 0, n);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Hex();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex Sha1Hex();

    // A blob is named by its ETag, so only characters that are safe in a file name are accepted.
    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex SafeName();
}
