using System.Text.Json;

namespace RsMoe.Cli.Commands;

/// <summary>Errors a user can act on are printed as one line (or one JSON object), never as a stack trace.</summary>
public static class CliErrors
{
    public static int Report(Exception e, bool asJson)
    {
        if (asJson) Console.WriteLine(JsonSerializer.Serialize(new { error = e.Message }));
        else Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
}
