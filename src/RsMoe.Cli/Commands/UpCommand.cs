using System.CommandLine;
using RsMoe.Constellation;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe up</c>: the whole constellation on this machine, until Ctrl-C.</summary>
public static class UpCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: models/default)" };
        var port = new Option<int>("--port") { Description = "The gateway's REST and web port (its gRPC port is the next one)", DefaultValueFactory = _ => 5080 };
        var redis = new Option<string>("--redis") { Description = "auto (start redis-server when installed), off, or a connection string", DefaultValueFactory = _ => "auto" };
        var logs = new Option<DirectoryInfo?>("--logs") { Description = "Folder for the services' logs" };
        var command = new Command("up", "Start the image encoder, VLM encoder, three experts and the gateway on loopback; Ctrl-C stops them") { model, port, redis, logs };
        command.SetAction(async (parse, cancellationToken) =>
        {
            int gatewayPort = parse.GetValue(port);
            var options = new ConstellationOptions
            {
                ModelDirectory = parse.GetValue(model)?.FullName,
                GatewayHttpPort = gatewayPort,
                GatewayGrpcPort = gatewayPort == 0 ? 0 : gatewayPort + 1,
                Redis = parse.GetValue(redis)!,
                LogDirectory = parse.GetValue(logs)?.FullName,
            };
            LocalConstellation constellation;
            try
            {
                constellation = await LocalConstellation.StartAsync(options, Console.WriteLine, cancellationToken);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or FileNotFoundException or DirectoryNotFoundException)
            {
                return CliErrors.Report(e, asJson: false);
            }
            catch (OperationCanceledException)
            {
                return 130;
            }
            await using (constellation)
            {
                Console.WriteLine();
                Console.WriteLine($"RS-MoE is up (feature cache: {constellation.Cache}).");
                Console.WriteLine($"  web page and REST  {constellation.GatewayUrl}/        (POST /v1/caption, POST /v1/ask, GET /v1/experts, POST /v1/scenes)");
                Console.WriteLine($"  gRPC               {constellation.GatewayGrpcUrl}     (rsmoe.v1.Captioner)");
                Console.WriteLine($"  metrics            {constellation.GatewayUrl}/metrics");
                Console.WriteLine($"  try                rsmoe caption models/default/samples/harbor.png --gateway {constellation.GatewayGrpcUrl}");
                Console.WriteLine("Ctrl-C stops everything.");
                try
                {
                    while (true)
                    {
                        await Task.Delay(1000, cancellationToken);
                        var dead = constellation.Services.FirstOrDefault(s => !s.IsRunning);
                        if (dead is not null)
                        {
                            Console.Error.WriteLine($"warning: {dead.Name} stopped; restarting it (log {dead.LogPath})");
                            dead.Start();
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    Console.WriteLine("stopping…");
                }
            }
            return 0;
        });
        return command;
    }
}
