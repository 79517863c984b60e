using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RsMoe.Contracts.V1;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe caption|ask --gateway URL</c>: the same commands against a running gateway's gRPC API.</summary>
public static class GatewayCommands
{
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The API key for gateways that require one: --api-key, else the RSMOE_API_KEY environment variable.</summary>
    public static System.CommandLine.Option<string?> ApiKeyOption() => new("--api-key")
    {
        Description = "API key for the gateway (default: the RSMOE_API_KEY environment variable)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("RSMOE_API_KEY"),
    };

    /// <summary>The call headers for a gateway that may require a key (one owner for every command that calls a gateway).</summary>
    internal static Metadata Headers(string? apiKey) => string.IsNullOrEmpty(apiKey) ? [] : new Metadata { { "x-api-key", apiKey } };

    /// <summary>A channel to a gateway, sending images up to 64 MiB.</summary>
    internal static GrpcChannel Channel(string url) => GrpcChannel.ForAddress(url, new GrpcChannelOptions { MaxSendMessageSize = 64 << 20 });

    static string Cache(CacheOutcome outcome) => outcome == CacheOutcome.Hit ? "hit" : "miss";

    static string Timings(IDictionary<string, double> timings) => string.Join(", ", timings.Select(t => $"{t.Key} {t.Value:F0} ms"));

    public static async Task<int> CaptionAsync(string url, string image, string? instruction, bool asJson, TimeSpan timeout, string? apiKey = null)
    {
        try
        {
            using var channel = Channel(url);
            var client = new Captioner.CaptionerClient(channel);
            using var call = client.StreamCaption(new CaptionRequest { Image = ByteString.CopyFrom(File.ReadAllBytes(image)), Instruction = instruction ?? "" },
                Headers(apiKey), DateTime.UtcNow + timeout);
            await foreach (var e in call.ResponseStream.ReadAllAsync())
            {
                if (e.EventCase == CaptionEvent.EventOneofCase.SectionDone && !asJson)
                {
                    var s = e.SectionDone;
                    Console.WriteLine(s.Error.Length > 0 ? $"[{s.Aspect}] (missing: {s.Error})" : $"[{s.Aspect}] {s.Text}    ({s.Expert})");
                }
                else if (e.EventCase == CaptionEvent.EventOneofCase.Done)
                {
                    var r = e.Done;
                    if (asJson)
                        Console.WriteLine(JsonSerializer.Serialize(new
                        {
                            caption = r.Caption,
                            sections = r.Sections.Select(s => new { aspect = s.Aspect, expert = s.Expert, text = s.Text, error = s.Error }),
                            cache = Cache(r.Cache),
                            timings_ms = r.TimingsMs,
                            gate = r.Gate,
                        }, Json));
                    else
                    {
                        Console.WriteLine();
                        Console.WriteLine(r.Caption);
                        Console.WriteLine($"(features: cache {Cache(r.Cache)}; {Timings(r.TimingsMs)})");
                    }
                }
            }
            return 0;
        }
        catch (Exception e) when (e is RpcException or IOException or UnauthorizedAccessException)
        {
            return CliErrors.Report(e is RpcException r ? new Exception($"{r.StatusCode}: {r.Status.Detail}") : e, asJson);
        }
    }

    /// <summary><c>rsmoe reload ROLE [ADAPTER] --gateway URL</c>: swaps one role's checkpoint on every replica while they serve.</summary>
    public static System.CommandLine.Command Reload()
    {
        var role = new System.CommandLine.Argument<string>("role") { Description = "theme, objects or relationships" };
        var adapter = new System.CommandLine.Argument<string?>("adapter") { Description = "PEFT adapter folder on the experts' filesystem (a relative path is resolved here); omitted: each replica's configured one", Arity = System.CommandLine.ArgumentArity.ZeroOrOne };
        var gateway = new System.CommandLine.Option<string>("--gateway") { Description = "The gateway's gRPC URL", DefaultValueFactory = _ => "http://127.0.0.1:5081" };
        var apiKey = ApiKeyOption();
        var command = new System.CommandLine.Command("reload", "Swap one expert role's checkpoint on every replica, one after another, while they serve") { role, adapter, gateway, apiKey };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                using var channel = Channel(parse.GetValue(gateway)!);
                string path = parse.GetValue(adapter) is { Length: > 0 } given ? Path.GetFullPath(given) : "";
                var result = await new Captioner.CaptionerClient(channel).ReloadExpertAsync(new ReloadExpertRequest { Role = parse.GetValue(role)!, AdapterPath = path },
                    Headers(parse.GetValue(apiKey)), DateTime.UtcNow.AddMinutes(15), cancellationToken);
                foreach (var replica in result.Replicas)
                    Console.WriteLine(replica.Error.Length == 0 ? $"{result.Role} at {replica.Replica} now serves {replica.Version}" : $"{result.Role} at {replica.Replica} failed: {replica.Error}");
                Console.WriteLine($"reloaded {result.Reloaded} of {result.Replicas.Count} replicas of {result.Role}");
                if (result.Reloaded == result.Replicas.Count) return 0;
                Console.Error.WriteLine($"error: {result.Replicas.Count - result.Reloaded} of {result.Replicas.Count} replicas of {result.Role} did not reload (listed above); they serve their previous version");
                return 2;
            }
            catch (RpcException e)
            {
                return CliErrors.Report(new Exception($"{e.StatusCode}: {e.Status.Detail}"), asJson: false);
            }
        });
        return command;
    }

    /// <summary><c>rsmoe keys new NAME [--operator]</c>: a new random API key and the configuration that admits it (only its hash is stored).</summary>
    public static System.CommandLine.Command Keys()
    {
        var name = new System.CommandLine.Argument<string>("name") { Description = "Who the key is for (appears in metrics, never the key)" };
        var isOperator = new System.CommandLine.Option<bool>("--operator") { Description = "May call the internal services through the gateway (Reload)" };
        var create = new System.CommandLine.Command("new", "Make a new API key") { name, isOperator };
        create.SetAction(parse =>
        {
            string key = "rsmoe_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
            string hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key))).ToLowerInvariant();
            Console.WriteLine($"key (give it to the caller; it is not stored): {key}");
            Console.WriteLine("gateway configuration (environment; N is the next free index):");
            Console.WriteLine($"  Access__ApiKeys__N__Name={parse.GetValue(name)}");
            Console.WriteLine($"  Access__ApiKeys__N__Sha256={hash}");
            if (parse.GetValue(isOperator)) Console.WriteLine("  Access__ApiKeys__N__Operator=true");
            return 0;
        });
        return new System.CommandLine.Command("keys", "API keys for the gateway") { create };
    }

    public static async Task<int> AskAsync(string url, string image, string question, bool asJson, TimeSpan timeout, string? apiKey = null)
    {
        try
        {
            using var channel = Channel(url);
            var client = new Captioner.CaptionerClient(channel);
            var r = await client.AskAsync(new AskRequest { Image = ByteString.CopyFrom(File.ReadAllBytes(image)), Question = question },
                Headers(apiKey), DateTime.UtcNow + timeout);
            if (asJson)
                Console.WriteLine(JsonSerializer.Serialize(new { answer = r.Answer, expert = r.Expert, cache = Cache(r.Cache), timings_ms = r.TimingsMs, gate = r.Gate }, Json));
            else
            {
                Console.WriteLine($"[{r.Expert}] {r.Answer}");
                Console.WriteLine($"(features: cache {Cache(r.Cache)}; {Timings(r.TimingsMs)})");
            }
            return 0;
        }
        catch (Exception e) when (e is RpcException or IOException or UnauthorizedAccessException)
        {
            return CliErrors.Report(e is RpcException r ? new Exception($"{r.StatusCode}: {r.Status.Detail}") : e, asJson);
        }
    }
}
