using RsMoe.Data.Images;

namespace RsMoe.Cli.Batch;

/// <summary>One image of an archive: its key in the results (the path as the user gave it, relative to the folder or list) and where it is.</summary>
public sealed record ArchiveImage(string Key, string Path);

/// <summary>
/// The images of an archive: every PNG, JPEG or TIFF below a folder, in ordinal order of their relative paths (so a
/// rerun sees the same order), or the paths a list file names, one a line, relative to the list's folder (blank lines
/// and <c>#</c> comments skipped, repeats once).
/// </summary>
public static class ArchiveInputs
{
    public static IReadOnlyList<ArchiveImage> Enumerate(string input)
    {
        if (Directory.Exists(input))
        {
            var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System };
            return Directory.EnumerateFiles(input, "*", options)
                .Where(file => ImageDecoder.FileExtensions.Contains(System.IO.Path.GetExtension(file)))
                .Select(file => new ArchiveImage(System.IO.Path.GetRelativePath(input, file).Replace('\\', '/'), file))
                .OrderBy(image => image.Key, StringComparer.Ordinal).ToList();
        }
        if (File.Exists(input))
        {
            string root = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(input))!;
            return File.ReadLines(input).Select(line => line.Trim()).Where(line => line.Length > 0 && !line.StartsWith('#'))
                .Distinct(StringComparer.Ordinal)
                .Select(line => new ArchiveImage(line, System.IO.Path.GetFullPath(System.IO.Path.Combine(root, line)))).ToList();
        }
        throw new FileNotFoundException($"'{input}' is neither a folder of images nor a list file", input);
    }
}
