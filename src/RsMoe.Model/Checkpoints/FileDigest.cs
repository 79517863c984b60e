using System.Security.Cryptography;

namespace RsMoe.Model.Checkpoints;

/// <summary>A short, stable name for a weights file: the first hex digits of its SHA-256 (versions and cache identities).</summary>
public static class FileDigest
{
    public static string Short(string path, int hexDigits = 12)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream))[..hexDigits].ToLowerInvariant();
    }
}
