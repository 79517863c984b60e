using System.Text;
using System.Text.Json;

namespace RsMoe.Cli.Batch;

/// <summary>
/// Results as JSON Lines that survive an interruption: each line is written whole and flushed, so a stop loses at
/// most the image in progress; on reopening, a last line cut short is dropped and every image already in the file
/// (captioned or failed) is skipped.
/// </summary>
public sealed class ResultsFile : IDisposable
{
    readonly StreamWriter _writer;

    /// <summary>The keys of the images the file already holds.</summary>
    public IReadOnlySet<string> Done { get; }

    ResultsFile(StreamWriter writer, IReadOnlySet<string> done)
    {
        _writer = writer;
        Done = done;
    }

    public static ResultsFile Open(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var done = new HashSet<string>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            DropUnfinishedLine(path);
            int number = 0;
            foreach (var line in File.ReadLines(path))
            {
                number++;
                if (line.Length == 0) continue;
                try
                {
                    using var json = JsonDocument.Parse(line);
                    done.Add(json.RootElement.GetProperty("image").GetString()!);
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    throw new InvalidDataException($"{path}, line {number}, is not a result line ({e.Message}); move the file away or name another --out");
                }
            }
        }
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        return new ResultsFile(new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true }, done);
    }

    /// <summary>Cuts the file after its last newline: what follows is a line an interruption left half written.</summary>
    static void DropUnfinishedLine(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var buffer = new byte[4096];
        long end = stream.Length;
        while (end > 0)
        {
            int count = (int)Math.Min(buffer.Length, end);
            stream.Position = end - count;
            stream.ReadExactly(buffer, 0, count);
            int newline = Array.LastIndexOf(buffer, (byte)'\n', count - 1, count);
            if (newline >= 0)
            {
                stream.SetLength(end - count + newline + 1);
                return;
            }
            end -= count;
        }
        stream.SetLength(0);
    }

    /// <summary>Appends one result as one line, flushed; safe from several threads (lines never interleave).</summary>
    public void Write(object result)
    {
        string line = JsonSerializer.Serialize(result) + "\n";
        lock (_writer) _writer.Write(line);
    }

    public void Dispose() => _writer.Dispose();
}
